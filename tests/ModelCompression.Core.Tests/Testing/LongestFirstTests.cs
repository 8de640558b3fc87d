using ModelCompression.Testing;
using Xunit.Sdk;
using Xunit.v3;

namespace ModelCompression.Core.Tests.Testing;

public sealed class LongestFirstTests
{
    [Fact]
    public void Classes_that_run_for_minutes_start_first_whatever_xunits_random_order()
    {
        // Collections as xunit makes them for classes without a [Collection].
        var factory = new CollectionPerClassTestCollectionFactory(new XunitTestAssembly(typeof(LongestFirstTests).Assembly, null, null, null, null, null, null));
        var collections = new[] { typeof(Quick), typeof(Long), typeof(AlsoQuick), typeof(AlsoLong) }.Select(factory.Get).ToList();

        var ordered = new LongestFirst().OrderTestCollections(collections);

        Assert.Equal(["AlsoLong", "Long"], ordered.Take(2).Select(ClassName).Order(StringComparer.Ordinal));
        Assert.Equal(["AlsoQuick", "Quick"], ordered.Skip(2).Select(ClassName).Order(StringComparer.Ordinal));
    }

    // "Test collection for ModelCompression.Core.Tests.Testing.LongestFirstTests+Long" → "Long"
    private static string ClassName(ITestCollection collection) => collection.TestCollectionDisplayName.Split('+')[^1].Split(' ')[0];

    private sealed class Quick;

    private sealed class AlsoQuick;

    [RunsForMinutes]
    private sealed class Long;

    [RunsForMinutes]
    private sealed class AlsoLong;
}
