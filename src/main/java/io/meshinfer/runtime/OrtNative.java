package io.meshinfer.runtime;

import ai.onnxruntime.OrtEnvironment;
import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ONNX Runtime's environment, without the copies of its native libraries left on disk.
 *
 * <p>ONNX Runtime's Java binding (1.23) copies {@code libonnxruntime.so} and its JNI library,
 * 22 MB, into a new directory under {@code java.io.tmpdir} at every start, and only marks them
 * for deletion when the JVM exits. The JVM deletes such files only on a normal exit, which
 * most node exits are not:
 * <ul>
 *   <li>a node stopped by SIGTERM halts once it has left (see {@code NodeCommand});</li>
 *   <li>a killed or crashed one does not exit at all.</li>
 * </ul>
 * So every start left 22 MB behind. On Kubernetes, {@code /tmp} is an {@code emptyDir} that
 * outlives container restarts, so a restarting pod filled its ephemeral storage. Once loaded, the
 * libraries are mapped into the process; on Linux and macOS their files can be removed at
 * once, and this class removes them after the first load. Only ONNX Runtime's own directory is
 * touched, found through the binding's field for it. Where that field is missing (another
 * binding version) or a file cannot be removed (Windows), the files stay marked for deletion
 * at exit, as before.
 *
 * <p>Removing the directory also removes the binding's place for execution-provider libraries
 * it extracts later (CUDA and the like). meshinfer runs ONNX Runtime's CPU provider only.
 */
public final class OrtNative {
    private static final Logger log = LoggerFactory.getLogger(OrtNative.class);
    private static final Object LOCK = new Object();
    private static boolean cleaned;

    private OrtNative() {
    }

    /** ONNX Runtime's environment, loading the native libraries and removing their copies on first use. */
    public static OrtEnvironment environment() {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        synchronized (LOCK) {
            if (!cleaned) {
                cleaned = true;
                extractedTo().ifPresent(dir -> NativeCopies.remove(dir, "ONNX Runtime's native libraries"));
            }
        }
        return env;
    }

    /** The directory the binding copied its libraries to, if it did and this binding version says where. */
    static Optional<Path> extractedTo() {
        try {
            Field f = Class.forName("ai.onnxruntime.OnnxRuntime").getDeclaredField("tempDirectory");
            f.setAccessible(true);
            Object dir = f.get(null);
            if (dir instanceof Path p && p.getFileName() != null
                    && p.getFileName().toString().startsWith("onnxruntime-java")) {
                return Optional.of(p);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("cannot tell where ONNX Runtime copied its native libraries: {}", e.toString());
        }
        return Optional.empty();
    }
}
