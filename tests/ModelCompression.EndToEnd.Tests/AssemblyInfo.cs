using ModelCompression.EndToEnd.Tests.Harness;
using Xunit.Sdk;
using Xunit.v3;

// One package for the whole run. Classes run side by side (each test builds in its own folder, runs its own
// processes and reads only its own outputs): the determinism test's two searches beside the consumer builds.
[assembly: AssemblyFixture(typeof(PackedPackage))]
[assembly: Parallelization(Mode = ParallelMode.Collections)]
[assembly: TestCollectionOrderer(typeof(ModelCompression.Testing.LongestFirst))]

// Every test here packs the package or runs the worker: the slow tier.
[assembly: Trait(ModelCompression.Testing.TestTiers.Name, ModelCompression.Testing.TestTiers.Slow)]
