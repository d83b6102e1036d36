package io.meshinfer.multijvm;

/** A node's HTTP endpoint as a load driver sees it. */
public record Gateway(String name, String host, int port) {
    public String url() {
        return "http://" + host + ":" + port;
    }
}
