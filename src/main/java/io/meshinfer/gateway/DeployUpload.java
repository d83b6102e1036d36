package io.meshinfer.gateway;

import io.meshinfer.api.InferenceException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.MediaType;
import org.apache.pekko.http.javadsl.model.Multipart;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.StreamLimitReachedException;
import org.apache.pekko.stream.javadsl.FileIO;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.util.ByteString;

/**
 * Receives the body of a deploy: either the raw ONNX file, or {@code multipart/form-data}
 * with a part {@code model} (the ONNX file) and optionally a part {@code golden} (golden
 * vectors as JSON). The model is streamed to a file either way, so the route's size limit
 * on the whole body applies as before; the golden part is collected in memory up to its
 * own limit. Completes with the golden part's bytes, or null when there is none; fails
 * with {@link InferenceException.InvalidInput} for a multipart body without a model, with a
 * part twice or with an unknown part.
 */
final class DeployUpload {
    static final String MODEL_PART = "model";
    static final String GOLDEN_PART = "golden";

    private DeployUpload() {
    }

    static boolean isMultipart(HttpEntity entity) {
        MediaType type = entity.getContentType().mediaType();
        return type.isMultipart() && type.subType().equals("form-data");
    }

    /** Streams the raw body, or the multipart body's model part, into {@code file}. */
    static CompletionStage<byte[]> receive(HttpEntity entity, Path file, long maxGoldenBytes, Materializer mat) {
        if (!isMultipart(entity)) {
            return entity.getDataBytes().runWith(FileIO.toPath(file), mat).thenApply(io -> null);
        }
        AtomicBoolean model = new AtomicBoolean();
        AtomicReference<byte[]> golden = new AtomicReference<>();
        return Unmarshaller.entityToMultipartFormData().unmarshal(entity, mat)
                .thenCompose(form -> form.getParts()
                        .mapAsync(1, part -> receivePart(part, file, maxGoldenBytes, model, golden, mat))
                        .runWith(Sink.ignore(), mat))
                .handle((done, error) -> {
                    if (error != null) {
                        throw asUploadFailure(error);
                    }
                    if (!model.get()) {
                        throw new InferenceException.InvalidInput("the multipart deploy has no part '" + MODEL_PART
                                + "' (the ONNX file)");
                    }
                    return golden.get();
                });
    }

    /**
     * {@code error} as the deploy should report it: a typed error, a size limit or an I/O
     * failure as they are; anything else the multipart parser raised as a malformed body.
     */
    private static RuntimeException asUploadFailure(Throwable error) {
        Throwable cause = error;
        while (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof InferenceException || t instanceof java.io.IOException
                    || t instanceof org.apache.pekko.http.scaladsl.model.EntityStreamSizeException) {
                return error instanceof RuntimeException re ? re : new java.util.concurrent.CompletionException(error);
            }
        }
        return new InferenceException.InvalidInput("malformed multipart/form-data body: " + cause.getMessage());
    }

    private static CompletionStage<Done> receivePart(Multipart.FormData.BodyPart part, Path file, long maxGoldenBytes,
                                                     AtomicBoolean model, AtomicReference<byte[]> golden,
                                                     Materializer mat) {
        String name = part.getName();
        if (name.equals(MODEL_PART) && !model.getAndSet(true)) {
            return part.getEntity().getDataBytes().runWith(FileIO.toPath(file), mat).thenApply(io -> Done.getInstance());
        }
        if (name.equals(GOLDEN_PART) && golden.get() == null) {
            return part.getEntity().getDataBytes()
                    .limitWeighted(maxGoldenBytes, b -> (long) b.size())
                    .runFold(ByteString.emptyByteString(), ByteString::concat, mat)
                    .handle((bytes, error) -> {
                        if (error instanceof StreamLimitReachedException
                                || error != null && error.getCause() instanceof StreamLimitReachedException) {
                            throw new InferenceException.InvalidInput("the part '" + GOLDEN_PART + "' is larger than"
                                    + " the limit of " + maxGoldenBytes + " bytes");
                        }
                        if (error != null) {
                            throw error instanceof RuntimeException re ? re
                                    : new java.util.concurrent.CompletionException(error);
                        }
                        golden.set(bytes.toArray());
                        return Done.getInstance();
                    });
        }
        part.getEntity().discardBytes(mat);
        String problem = name.equals(MODEL_PART) || name.equals(GOLDEN_PART)
                ? "the part '" + name + "' is given twice"
                : "unknown part '" + name + "' (a multipart deploy has a part '" + MODEL_PART
                        + "', the ONNX file, and optionally a part '" + GOLDEN_PART + "', golden vectors as JSON)";
        return CompletableFuture.failedFuture(new InferenceException.InvalidInput(problem));
    }
}
