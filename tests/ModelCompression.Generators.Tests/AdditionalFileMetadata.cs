using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace ModelCompression.Generators.Tests;

/// <summary>
/// The compiler-visible metadata of additional files, as MSBuild passes them (<c>build_metadata.AdditionalFiles.{Name}</c>),
/// held in memory: <c>new AdditionalFileMetadata().Set(path, "ModelCompressionLabelsFor", sidecarPath)</c>, plus the
/// metadata a <see cref="GeneratorHarness.InMemoryText"/> carries (so a replaced file brings its own).
/// </summary>
internal sealed class AdditionalFileMetadata : AnalyzerConfigOptionsProvider
{
    private readonly Dictionary<string, Dictionary<string, string>> _byPath = new(StringComparer.Ordinal);

    public AdditionalFileMetadata Set(string path, string metadataName, string value)
    {
        if (!_byPath.TryGetValue(path, out var values)) _byPath[path] = values = new(StringComparer.Ordinal);
        values["build_metadata.AdditionalFiles." + metadataName] = value;
        return this;
    }

    public override AnalyzerConfigOptions GlobalOptions { get; } = new Options([]);

    public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => GlobalOptions;

    public override AnalyzerConfigOptions GetOptions(AdditionalText textFile)
    {
        var values = _byPath.TryGetValue(textFile.Path, out var set) ? new Dictionary<string, string>(set, StringComparer.Ordinal) : new(StringComparer.Ordinal);
        if (textFile is GeneratorHarness.InMemoryText text)
            foreach (var (name, value) in text.Metadata) values["build_metadata.AdditionalFiles." + name] = value;
        return new Options(values);
    }

    private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
    }
}
