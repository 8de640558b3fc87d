using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.IO;
using ModelCompression.Core.Planning;

namespace ModelCompression.Cli.Distillation;

/// <summary>The checks of the distillation settings that need no data and no plugin: done before any work.</summary>
public static class DistillationSettings
{
    /// <summary>The NuGet package that brings the plugin, as a user adds it.</summary>
    public const string PackageId = "ModelCompression.Build.Distillation";

    /// <exception cref="CompressionException">MC2009 TrainingData is the ValidationData file.</exception>
    public static void CheckTrainingData(CompressionRequest request)
    {
        if (request.TrainingDataPath is not { } training || request.ValidationDataPath is not { } validation) return;
        if (string.Equals(CanonicalPath.Of(training), CanonicalPath.Of(validation), StringComparison.Ordinal))
            throw new CompressionException(DiagnosticCode.TrainingDataIsValidationData, request.ModelPath,
                $"TrainingData is the ValidationData file ('{training}'): distillation never trains on the samples that judge it. Set TrainingData to another .npz (for example the CalibrationData), or remove it.");
    }

    /// <summary>
    /// MC3101 when Techniques lists <c>distill</c> explicitly and the distillation package is not installed; null when
    /// the techniques are the default (all that apply: distillation simply does not apply without the package).
    /// </summary>
    /// <param name="techniques">The <c>Techniques</c> metadata as written; null or blank for the default.</param>
    public static Diagnostic? MissingPackageWarning(CompressionRequest request, string? techniques)
    {
        if (string.IsNullOrWhiteSpace(techniques) || !request.Techniques.HasFlag(Technique.Distill) || request.DistillationPluginPath is not null)
            return null;
        return Diagnostic.Warning(DiagnosticCode.DistillationPackageMissing, request.ModelPath,
            $"Techniques lists distill, but the {PackageId} package is not installed, so the search cannot distil. Add <PackageReference Include=\"{PackageId}\" Version=\"{PackageVersion}\" /> to the project, or remove distill from Techniques.");
    }

    /// <summary>The version to suggest: the worker's own, as the two packages ship together.</summary>
    public static string PackageVersion => Compressor.ToolVersion;
}
