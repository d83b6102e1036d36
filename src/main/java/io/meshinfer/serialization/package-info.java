/**
 * Wire format of cluster messages: {@link io.meshinfer.serialization.KryoSerializer},
 * Kryo with explicit registration; Java serialization stays off.
 */
package io.meshinfer.serialization;
