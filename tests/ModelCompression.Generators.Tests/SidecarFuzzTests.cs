extern alias Generators;

using System.Text;
using Generators::ModelCompression.Generators;
using ModelCompression.Testing.Fuzzing;

namespace ModelCompression.Generators.Tests;

/// <summary>
/// The generator's side of an untrusted sidecar, fuzzed: parsing it and emitting the wrapper either
/// succeeds or reports a coded diagnostic (MC7001, MC7002); an exception would surface as the
/// compiler's CS8785 "generator failed" warning and no wrapper.
/// </summary>
public sealed class SidecarFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_mutated_sidecar_parses_and_emits_or_reports_its_diagnostic()
    {
        var target = new FuzzTarget("generator-sidecar", SidecarCorpus.Seeds, SidecarCorpus.Mutator, bytes =>
        {
            var result = SidecarParser.Parse("/project/obj/model.mcsig", Encoding.UTF8.GetString(bytes));
            if (result.Model is null) return result.Diagnostics[0].Descriptor.Id;
            WrapperEmitter.Emit(result.Model);
            return null;
        }, _ => null);

        FuzzAssert.NoCrashes(target, output);
    }
}
