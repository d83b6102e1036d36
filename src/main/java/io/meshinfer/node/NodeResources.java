package io.meshinfer.node;

import io.meshinfer.registry.ArtifactStore;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.RuntimeSettings;
import java.io.IOException;
import java.nio.file.Path;

/**
 * What a node process keeps across actor-system restarts: the ONNX Runtime with its
 * loaded sessions and the artifact store on disk. Closing it closes every session.
 */
public record NodeResources(ModelRuntime runtime, ArtifactStore store) implements AutoCloseable {

    public static NodeResources open(RuntimeSettings settings, Path dataDir) throws IOException {
        return new NodeResources(new ModelRuntime(settings), new ArtifactStore(dataDir));
    }

    @Override
    public void close() {
        runtime.close();
    }
}
