using ModelCompression.Testing;
using ModelCompression.Testing.Fuzzing;

namespace ModelCompression.Core.Tests.Fuzzing;

/// <summary>
/// Every parser of untrusted input, fuzzed: each mutated input must be accepted or refused with the
/// parser's documented coded failure, never crash or hang. 1,000 mutations per target by default
/// (a fixed seed, so a run is reproducible); <c>MODELCOMPRESSION_FUZZ_ITERATIONS=100000</c> runs more,
/// <c>MODELCOMPRESSION_FUZZ_SEED</c> starts elsewhere. The figures show with <c>dotnet test --output Detailed</c>.
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Onnx_model_and_its_external_data()
    {
        using var dir = new TempDirectory("mc-fuzz-onnx");
        FuzzAssert.NoCrashes(ParserFuzzTargets.OnnxModel(dir), output);
    }

    [Fact]
    public void Npz_data_bound_to_a_model()
    {
        using var dir = new TempDirectory("mc-fuzz-npz");
        FuzzAssert.NoCrashes(ParserFuzzTargets.NpzData(dir), output);
    }

    [Fact]
    public void Npy_header() => FuzzAssert.NoCrashes(ParserFuzzTargets.NpyHeader(), output);

    [Fact]
    public void Signature_sidecar() => FuzzAssert.NoCrashes(ParserFuzzTargets.SignatureSidecarText(), output);

    [Fact]
    public void Plan_lock_file() => FuzzAssert.NoCrashes(LockFuzzTargets.LockFile(), output);

    [Fact]
    public void Plans_in_a_lock_with_a_valid_fingerprint() => FuzzAssert.NoCrashes(LockFuzzTargets.LockedPlans(), output);
}
