/**
 * Multi-JVM fault scenarios: real node processes on 127.0.0.1 driven through
 * {@link io.meshinfer.multijvm.ClusterHarness} under load from {@link io.meshinfer.multijvm.LoadDriver};
 * each {@code *Scenario} class is one behaviour of issue 3 item 9, run by failsafe.
 */
package io.meshinfer.multijvm;
