namespace ModelCompression.Testing;

/// <summary>
/// The trait that splits the suite: <c>[Trait(TestTiers.Name, TestTiers.Slow)]</c> marks tests on the real models of
/// ../shared, the ONNX conformance run and the end-to-end builds. CI runs everything; a developer runs the fast tier with
/// <c>dotnet test -- --filter-not-trait "Tier=Slow"</c>.
/// </summary>
public static class TestTiers
{
    public const string Name = "Tier";
    public const string Slow = "Slow";
}
