package io.meshinfer.registry;

import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.GraphStageWithMaterializedValue;
import org.apache.pekko.util.ByteString;
import scala.Tuple2;

/**
 * Passes bytes through unchanged while counting them and feeding a SHA-256 digest; fails
 * the stream as soon as more than {@code maxBytes} have passed (a peer may not send more
 * than the manifest says). Materializes the count and the hex digest of everything that
 * passed, completed when upstream completes and failed when the stream fails or is
 * cancelled first. Backpressure passes straight through: it pulls only when downstream does.
 */
final class DigestStage extends GraphStageWithMaterializedValue<FlowShape<ByteString, ByteString>,
        CompletionStage<DigestStage.Digest>> {

    /** What passed through: {@code bytes} bytes hashing to {@code sha256}. */
    record Digest(long bytes, String sha256) {
    }

    /** More bytes than allowed passed through. */
    static final class TooLarge extends RuntimeException {
        TooLarge(long max) {
            super("the peer sent more than the artifact's " + max + " bytes");
        }
    }

    private final long maxBytes;
    private final Inlet<ByteString> in = Inlet.create("DigestStage.in");
    private final Outlet<ByteString> out = Outlet.create("DigestStage.out");
    private final FlowShape<ByteString, ByteString> shape = FlowShape.of(in, out);

    DigestStage(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    @Override
    public FlowShape<ByteString, ByteString> shape() {
        return shape;
    }

    @Override
    public Tuple2<GraphStageLogic, CompletionStage<Digest>> createLogicAndMaterializedValue(Attributes attributes) {
        CompletableFuture<Digest> result = new CompletableFuture<>();
        MessageDigest md = ArtifactStore.newDigest();
        GraphStageLogic logic = new GraphStageLogic(shape) {
            private long count;

            {
                setHandler(in, new AbstractInHandler() {
                    @Override
                    public void onPush() {
                        ByteString chunk = grab(in);
                        count += chunk.size();
                        if (count > maxBytes) {
                            TooLarge e = new TooLarge(maxBytes);
                            result.completeExceptionally(e);
                            failStage(e);
                            return;
                        }
                        for (java.nio.ByteBuffer b : chunk.getByteBuffers()) {
                            md.update(b);
                        }
                        push(out, chunk);
                    }

                    @Override
                    public void onUpstreamFinish() {
                        result.complete(new Digest(count, HexFormat.of().formatHex(md.digest())));
                        completeStage();
                    }

                    @Override
                    public void onUpstreamFailure(Throwable ex) {
                        result.completeExceptionally(ex);
                        failStage(ex);
                    }
                });
                setHandler(out, new AbstractOutHandler() {
                    @Override
                    public void onPull() {
                        pull(in);
                    }

                    @Override
                    public void onDownstreamFinish(Throwable cause) {
                        result.completeExceptionally(cause);
                        cancelStage(cause);
                    }
                });
            }

            @Override
            public void postStop() {
                if (!result.isDone()) {
                    result.completeExceptionally(new IllegalStateException("the transfer stopped before it ended"));
                }
            }
        };
        return Tuple2.apply(logic, result);
    }
}
