using ModelCompression.EndToEnd.Tests.Harness;
using Xunit.Sdk;
using Xunit.v3;

// One package for the whole run; builds one at a time (each already uses both cores).
[assembly: AssemblyFixture(typeof(PackedPackage))]
[assembly: Parallelization(Mode = ParallelMode.None)]

// Every test here packs the package or runs the worker: the slow tier.
[assembly: Trait(ModelCompression.Testing.TestTiers.Name, ModelCompression.Testing.TestTiers.Slow)]
