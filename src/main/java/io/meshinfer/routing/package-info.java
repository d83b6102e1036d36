/**
 * Request routing from node-local replicated state ({@link io.meshinfer.routing.Router}):
 * version choice, validation at entry, replica choice by load, and retries.
 */
package io.meshinfer.routing;
