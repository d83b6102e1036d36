package io.meshinfer.jmh;

import com.typesafe.config.Config;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.protocol.OipBinary;
import io.meshinfer.protocol.OipJson;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The gateway's side of the Open Inference Protocol codecs: decoding a request body and
 * encoding a response body, as JSON and with the binary tensor data extension, for one
 * FP32 tensor of the benchmark MLP's input size ([1, 256]) or the CNN's ([1, 3, 64, 64]).
 * The response carries a tensor of the same shape as the request, so the two directions
 * move the same data. Limits and timeouts are the node's defaults, as the gateway passes them.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 3, time = 2)
public class CodecBenchmark {
    private static final String MODEL = "bench";

    @Param
    public InputShape shape;

    private OipJson json;
    private OipBinary binary;
    private long defaultTimeoutMillis;
    private long maxTimeoutMillis;
    private byte[] jsonRequest;
    private byte[] binaryRequest;
    private String binaryHeaderLength;
    private InferenceResponse response;

    @Setup
    public void setUp() {
        Config config = Fixtures.localSystemConfig();
        json = new OipJson(Math.min(Tensor.MAX_ELEMENTS, config.getBytes("meshinfer.http.max-request-body")));
        binary = new OipBinary(json);
        defaultTimeoutMillis = config.getDuration("meshinfer.routing.default-timeout", TimeUnit.MILLISECONDS);
        maxTimeoutMillis = config.getDuration("meshinfer.routing.max-timeout", TimeUnit.MILLISECONDS);

        Tensor tensor = shape.tensor();
        InferenceRequest request = new InferenceRequest("bench-1", MODEL, null,
                List.of(new NamedTensor("x", tensor)), List.of(), defaultTimeoutMillis, Set.of(), null, null);
        jsonRequest = json.encodeRequest(request);
        OipBinary.Body body = binary.encodeRequest(request, true, true);
        binaryRequest = body.bytes();
        binaryHeaderLength = Integer.toString(body.jsonLength());
        response = new InferenceResponse("bench-1", MODEL, "1", List.of(new NamedTensor("y", tensor)),
                "node-1", "region-a", 1, false);
    }

    @Benchmark
    public InferenceRequest jsonDecodeRequest() {
        return json.decodeRequest(jsonRequest, MODEL, null, defaultTimeoutMillis, maxTimeoutMillis);
    }

    @Benchmark
    public byte[] jsonEncodeResponse() {
        return json.encodeResponse(response);
    }

    @Benchmark
    public OipBinary.Request binaryDecodeRequest() {
        return binary.decodeRequest(binaryRequest, binaryHeaderLength, MODEL, null, defaultTimeoutMillis,
                maxTimeoutMillis);
    }

    @Benchmark
    public OipBinary.Body binaryEncodeResponse() {
        return binary.encodeResponse(response, OipBinary.BinaryOutputs.ALL);
    }
}
