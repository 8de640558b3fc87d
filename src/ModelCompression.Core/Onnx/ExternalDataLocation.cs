using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.IO;

namespace ModelCompression.Core.Onnx;

/// <summary>
/// Resolves the file a tensor's external-data <c>location</c> names. A model is untrusted input: a
/// location such as <c>../../etc/passwd</c>, an absolute path, or a symbolic link in the model's
/// folder that leads out of it would copy a host file into the compressed model, so only files
/// inside the model's folder (both canonicalised, links followed) are ever resolved.
/// </summary>
public static class ExternalDataLocation
{
    /// <summary>The canonical path of the file <paramref name="location"/> names: open this path, not the location, so that what is read is what was checked.</summary>
    /// <param name="modelPath">The model file, whose folder the location is relative to; named in errors.</param>
    /// <exception cref="CompressionException">
    /// MC1002 the location is empty or holds a NUL; MC1006 it leads outside the model's folder;
    /// MC1004 it names a folder, no file, or a loop of symbolic links.
    /// </exception>
    public static string Resolve(string modelPath, string tensorName, string location)
    {
        if (location.Length == 0)
            throw new CompressionException(DiagnosticCode.ModelInvalid, modelPath,
                $"Tensor '{tensorName}' of '{modelPath}' is marked as external data but names no location. Re-export the model with its external data.");
        if (location.Contains('\0'))
            throw new CompressionException(DiagnosticCode.ModelInvalid, modelPath,
                $"Tensor '{tensorName}' of '{modelPath}' stores its data in '{Printable(location)}', which holds a NUL character, as no file name does: the model is corrupt. Re-export the model with its external data.");

        string folder, file;
        try
        {
            folder = CanonicalPath.Of(Path.GetDirectoryName(Path.GetFullPath(modelPath))!);
            file = CanonicalPath.Of(Path.Combine(folder, location));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCode.ExternalDataMissing, modelPath,
                $"Tensor '{tensorName}' of '{modelPath}' stores its data in '{location}', which cannot be followed ({e.Message}). Keep the external-data file, not a link, beside the model.", e);
        }

        if (!CanonicalPath.IsWithin(file, folder))
            throw new CompressionException(DiagnosticCode.ExternalDataOutsideModelFolder, modelPath,
                $"Tensor '{tensorName}' of '{modelPath}' stores its data in '{location}', which leads to '{file}', outside the model's folder '{folder}'; nothing was read from it. " +
                "A model may only read external data from its own folder: keep the external-data files in the model's folder (not behind a link leading out of it) and re-export the model with a relative location, e.g. onnx.save_model(model, path, save_as_external_data=True, location='model.onnx.data').");
        if (Directory.Exists(file))
            throw new CompressionException(DiagnosticCode.ExternalDataMissing, modelPath,
                $"Tensor '{tensorName}' of '{modelPath}' stores its data in '{location}', which is a folder, not a file. Re-export the model with its external data.");
        if (!File.Exists(file))
            throw new CompressionException(DiagnosticCode.ExternalDataMissing, modelPath,
                $"Tensor '{tensorName}' of '{modelPath}' stores its data in '{location}', which does not exist next to the model. Copy the external-data file beside the model.");
        return file;
    }

    private static string Printable(string text) => text.Replace("\0", "\\0");
}
