using Microsoft.CodeAnalysis.Diagnostics;

namespace ModelCompression.Generators;

/// <summary>
/// The CompressedModel item's wrapper metadata, as MSBuild makes it compiler-visible on the sidecar's AdditionalFiles
/// item (<c>CompilerVisibleItemMetadata</c>). Raw text: the parser validates it and reports what is wrong.
/// </summary>
internal sealed record WrapperMetadata(string MaxBatchSize, string MaxSizes, string EmbeddedResourceName)
{
    public const string MaxBatchSizeName = "ModelCompressionMaxBatchSize";
    public const string MaxSizesName = "ModelCompressionMaxSizes";
    public const string EmbeddedResourceNameName = "ModelCompressionEmbeddedResource";

    /// <summary>No metadata: a batch-1 wrapper whose buffers grow, loading the model from a file.</summary>
    public static readonly WrapperMetadata None = new("", "", "");

    public static WrapperMetadata Read(AnalyzerConfigOptions options) =>
        new(ItemMetadata(options, MaxBatchSizeName), ItemMetadata(options, MaxSizesName), ItemMetadata(options, EmbeddedResourceNameName));

    /// <summary>An AdditionalFiles item's compiler-visible metadata, trimmed; empty when not set.</summary>
    // An item without the metadata still has the key (empty) when the metadata is compiler-visible; both mean "not set".
    public static string ItemMetadata(AnalyzerConfigOptions options, string name) =>
        options.TryGetValue("build_metadata.AdditionalFiles." + name, out var value) ? value.Trim() : "";
}
