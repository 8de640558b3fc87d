using System.Globalization;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Onnx;

/// <summary>What a tensor's <c>external_data</c> entries say: the file, and where its bytes start and how many there are.</summary>
/// <param name="Length">Null when the entry is absent: the tensor then takes the bytes its dims need.</param>
internal sealed record ExternalDataReference(string Location, long Offset, long? Length)
{
    /// <exception cref="CompressionException">MC1002: a key given twice, no location, or an offset or length that is not a non-negative integer.</exception>
    public static ExternalDataReference Of(TensorProto tensor, string modelPath)
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in tensor.ExternalData)
            if (!entries.TryAdd(entry.Key, entry.Value))
                throw Invalid(modelPath, tensor, $"gives the external-data key '{entry.Key}' twice, so which value holds is ambiguous");
        if (!entries.TryGetValue(ExternalData.LocationKey, out var location))
            throw Invalid(modelPath, tensor, "is marked as external data but names no location");
        return new ExternalDataReference(location, Number(entries, ExternalData.OffsetKey, modelPath, tensor) ?? 0, Number(entries, ExternalData.LengthKey, modelPath, tensor));
    }

    private static long? Number(Dictionary<string, string> entries, string key, string modelPath, TensorProto tensor)
    {
        if (!entries.TryGetValue(key, out var text)) return null;
        // NumberStyles.None: digits only, as ONNX writes them (no sign, space, exponent or hex).
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Invalid(modelPath, tensor, $"has the external-data {key} '{text}', which is not a non-negative integer (a byte count, at most {long.MaxValue})");
    }

    private static CompressionException Invalid(string modelPath, TensorProto tensor, string problem) =>
        new(DiagnosticCode.ModelInvalid, modelPath,
            $"'{modelPath}' is not a valid ONNX model: tensor '{tensor.Name}' {problem}. The model is corrupt; re-export it with its external data.");
}
