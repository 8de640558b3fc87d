using System.Reflection;
using Xunit.Sdk;
using Xunit.v3;

namespace ModelCompression.Testing;

/// <summary>
/// Marks a test class that runs for minutes, so that <see cref="LongestFirst"/> starts it before the others.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RunsForMinutesAttribute : Attribute;

/// <summary>
/// Starts the test classes marked <see cref="RunsForMinutesAttribute"/> first, the rest in xunit's default (random)
/// order. Test classes run side by side, one per core; a class of several minutes that happened to start last ran
/// on one core after everything else had finished, and the assembly took minutes longer.
/// </summary>
public sealed class LongestFirst : ITestCollectionOrderer
{
    private const string DefaultCollectionPrefix = "Test collection for ";

    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection =>
        DefaultTestCollectionOrderer.Instance.OrderTestCollections(testCollections).OrderBy(c => RunsForMinutes(c) ? 0 : 1).ToList();

    // A class without a [Collection] is a collection of its own, named after the class.
    private static bool RunsForMinutes(ITestCollection collection)
    {
        var name = collection.TestCollectionClassName ?? (collection.TestCollectionDisplayName.StartsWith(DefaultCollectionPrefix, StringComparison.Ordinal)
            ? collection.TestCollectionDisplayName[DefaultCollectionPrefix.Length..].Split(' ')[0]
            : null);
        var assembly = (collection.TestAssembly as IXunitTestAssembly)?.Assembly;
        return name is not null && assembly?.GetType(name)?.GetCustomAttribute<RunsForMinutesAttribute>() is not null;
    }
}
