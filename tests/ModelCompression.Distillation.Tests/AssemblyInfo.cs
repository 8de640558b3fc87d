using Xunit.v3;

// The classes marked [RunsForMinutes] start first (see LongestFirst).
[assembly: TestCollectionOrderer(typeof(ModelCompression.Testing.LongestFirst))]
