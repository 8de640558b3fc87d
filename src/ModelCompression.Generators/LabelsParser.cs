using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace ModelCompression.Generators;

/// <summary>A labels file: the signature sidecar it belongs to and its class names, one a line.</summary>
internal sealed record LabelsFile(string Path, string SidecarPath, EquatableArray<string> Labels);

/// <summary>
/// Reads the <c>Labels</c> files. MSBuild passes each as an AdditionalFiles item whose compiler-visible metadata
/// <c>ModelCompressionLabelsFor</c> is the full path of the sidecar it belongs to.
/// </summary>
internal static class LabelsParser
{
    public const string LabelsForName = "ModelCompressionLabelsFor";

    /// <summary>The labels file, or null when <paramref name="text"/> is not one.</summary>
    public static LabelsFile? Parse(AdditionalText text, AnalyzerConfigOptions options, CancellationToken cancellationToken)
    {
        var sidecarPath = WrapperMetadata.ItemMetadata(options, LabelsForName);
        if (sidecarPath.Length == 0) return null;
        // An unreadable file has no labels: the count check then reports it.
        return new(text.Path, sidecarPath, new(Lines(text.GetText(cancellationToken)?.ToString() ?? "")));
    }

    /// <summary>One label a line ('\n' or "\r\n"); trailing empty lines are ignored (an editor's final newline).</summary>
    public static string[] Lines(string text)
    {
        var lines = new List<string>(text.Split('\n'));
        for (var i = 0; i < lines.Count; i++) lines[i] = lines[i].TrimEnd('\r');
        while (lines.Count > 0 && string.IsNullOrWhiteSpace(lines[lines.Count - 1])) lines.RemoveAt(lines.Count - 1);
        return lines.ToArray();
    }
}
