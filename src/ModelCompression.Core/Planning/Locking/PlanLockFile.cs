using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.IO;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// Reads and writes <see cref="PlanLock"/> as JSON meant for version control: a fixed property
/// order, two-space indentation, '\n' line endings, no timestamps and no paths, so that the same
/// inputs give the same bytes and a changed plan reads as a small diff.
/// </summary>
public static class PlanLockFile
{
    public const string Extension = ".compression.lock.json";

    /// <summary><c>&lt;model dir&gt;/&lt;model name without extension&gt;.compression.lock.json</c>.</summary>
    public static string DefaultPath(string modelPath) =>
        Path.Combine(Path.GetDirectoryName(modelPath) ?? "", Path.GetFileNameWithoutExtension(modelPath) + Extension);

    /// <summary>The request's <see cref="CompressionRequest.LockPath"/>, or the <see cref="DefaultPath"/> beside its model.</summary>
    public static string PathFor(CompressionRequest request) => request.LockPath ?? DefaultPath(request.ModelPath);

    /// <summary>Writes <paramref name="planLock"/> to <paramref name="path"/> atomically.</summary>
    /// <exception cref="CompressionException">MC6001 the file cannot be written.</exception>
    public static void Write(string path, PlanLock planLock)
    {
        try
        {
            AtomicFile.WriteAllText(path, ToJson(planLock));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCode.OutputWriteFailed, path,
                $"The plan lock '{path}' cannot be written ({e.Message}). Make the model's folder writable, or pass another path with --lock.", e);
        }
    }

    /// <summary>Reads the lock at <paramref name="path"/>; null when there is none.</summary>
    /// <exception cref="CompressionException">MC5004 the file is not a plan lock this tool can read.</exception>
    public static PlanLock? Read(string path)
    {
        if (!File.Exists(path)) return null;
        string json;
        try
        {
            json = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(path, $"it cannot be read ({e.Message})", e);
        }
        return Parse(json, path);
    }

    public static string ToJson(PlanLock planLock)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions
               {
                   Indented = true,
                   NewLine = "\n",
                   // Node names and labels stay readable ('→', '<', '+'); the file is never embedded in HTML.
                   Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
               }))
        {
            var inputs = planLock.Inputs;
            var settings = inputs.Settings;
            var result = planLock.Result;
            json.WriteStartObject();
            json.WriteNumber("formatVersion", PlanLock.FormatVersion);
            json.WriteString("toolVersion", inputs.ToolVersion);
            json.WriteString("onnxRuntimeVersion", planLock.OnnxRuntimeVersion);

            json.WriteStartObject("inputs");
            json.WriteString("modelSha256", inputs.ModelSha256);
            json.WriteString("validationDataSha256", inputs.ValidationDataSha256);
            json.WriteString("calibrationDataSha256", inputs.CalibrationDataSha256);
            json.WriteStartObject("settings");
            json.WriteString("metric", settings.Metric);
            json.WriteString("techniques", settings.Techniques);
            json.WriteNumber("maxAccuracyDrop", settings.MaxAccuracyDrop);
            WriteNumberOrNull(json, "maxSizeBytes", settings.MaxSizeBytes);
            WriteNumberOrNull(json, "maxLatencyMilliseconds", settings.MaxLatencyMilliseconds);
            json.WriteEndObject();
            json.WriteEndObject();

            json.WriteStartArray("plan");
            foreach (var step in planLock.Plan.Steps)
            {
                json.WriteStartObject();
                json.WriteString("pass", step.Pass);
                json.WriteStartObject("parameters");
                foreach (var (name, value) in step.Parameters) json.WriteString(name, value);
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartObject("achieved");
            json.WriteString("candidate", result.Candidate);
            WriteNumberOrNull(json, "searchScore", result.SearchScore);
            json.WriteNumber("validationScore", result.ValidationScore);
            json.WriteNumber("originalScore", result.OriginalScore);
            json.WriteNumber("sizeBytes", result.SizeBytes);
            json.WriteNumber("originalSizeBytes", result.OriginalSizeBytes);
            WriteNumberOrNull(json, "latencyRatio", result.LatencyRatio is { } ratio ? Math.Round(ratio, 2) : null);
            json.WriteEndObject();

            json.WriteString("compressedModelSha256", planLock.CompressedModelSha256);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Parses a lock's JSON; <paramref name="path"/> names the file in errors.</summary>
    /// <exception cref="CompressionException">MC5004 the text is not a plan lock this tool can read.</exception>
    public static PlanLock Parse(string json, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"it is not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var root = new Node(document.RootElement, "", path);
            var version = root.Property("formatVersion").Int();
            if (version != PlanLock.FormatVersion)
                throw Invalid(path, $"it is in lock format version {version}, and this tool ({Compressor.ToolVersion}) reads version {PlanLock.FormatVersion}");

            var inputs = root.Property("inputs");
            var settings = inputs.Property("settings");
            var achieved = root.Property("achieved");
            var lockInputs = new LockInputs(
                root.Property("toolVersion").String(),
                inputs.Property("modelSha256").Hash(),
                inputs.Property("validationDataSha256").HashOrNull(),
                inputs.Property("calibrationDataSha256").HashOrNull(),
                new LockSettings(
                    settings.Property("metric").String(),
                    settings.Property("techniques").String(),
                    settings.Property("maxAccuracyDrop").Double(),
                    settings.Property("maxSizeBytes").LongOrNull(),
                    settings.Property("maxLatencyMilliseconds").DoubleOrNull()));
            var plan = new Plan(root.Property("plan").Items().Select(step =>
                new PassStep(step.Property("pass").String(), step.Property("parameters").Properties().Select(p => KeyValuePair.Create(p.Name, p.Value.String())))));
            var result = new LockedResult(
                achieved.Property("candidate").String(),
                achieved.Property("searchScore").DoubleOrNull(),
                achieved.Property("validationScore").Double(),
                achieved.Property("originalScore").Double(),
                achieved.Property("sizeBytes").Long(),
                achieved.Property("originalSizeBytes").Long(),
                achieved.Property("latencyRatio").DoubleOrNull());
            return new PlanLock(lockInputs, root.Property("onnxRuntimeVersion").String(), plan, result, root.Property("compressedModelSha256").Hash());
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v) json.WriteNumber(name, v);
        else json.WriteNull(name);
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } v) json.WriteNumber(name, v);
        else json.WriteNull(name);
    }

    internal static CompressionException Invalid(string path, string problem, Exception? inner = null) =>
        new(DiagnosticCode.LockInvalid, path,
            $"The plan lock '{path}' cannot be read: {problem}. Delete it and build again (without ModelCompressionLockedMode) to search a new plan, then commit the new lock.", inner);

    /// <summary>A JSON value with its dotted location, so that every error says which property is wrong.</summary>
    private readonly record struct Node(JsonElement Element, string Location, string File)
    {
        public Node Property(string name)
        {
            var location = Location.Length == 0 ? name : $"{Location}.{name}";
            if (Element.ValueKind != JsonValueKind.Object)
                throw Invalid(File, $"'{(Location.Length == 0 ? "the file" : Location)}' is not a JSON object");
            if (!Element.TryGetProperty(name, out var value))
                throw Invalid(File, $"it has no '{location}'");
            return new Node(value, location, File);
        }

        public IEnumerable<(string Name, Node Value)> Properties()
        {
            if (Element.ValueKind != JsonValueKind.Object) throw Wrong("an object");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in Element.EnumerateObject())
            {
                if (!seen.Add(p.Name)) throw Invalid(File, $"'{Location}' holds '{p.Name}' twice");
                yield return (p.Name, new Node(p.Value, $"{Location}.{p.Name}", File));
            }
        }

        public IEnumerable<Node> Items()
        {
            if (Element.ValueKind != JsonValueKind.Array) throw Wrong("an array");
            var index = 0;
            foreach (var item in Element.EnumerateArray()) yield return new Node(item, $"{Location}[{index++}]", File);
        }

        public string String() => Element.ValueKind == JsonValueKind.String ? Element.GetString()! : throw Wrong("a string");

        public string Hash()
        {
            var text = String();
            return text.Length == 64 && text.All(char.IsAsciiHexDigitLower) ? text : throw Wrong("a SHA-256 in lowercase hex (64 characters)");
        }

        public string? HashOrNull() => IsNull ? null : Hash();

        public int Int() => Element.ValueKind == JsonValueKind.Number && Element.TryGetInt32(out var v) ? v : throw Wrong("a whole number");

        public long Long() => Element.ValueKind == JsonValueKind.Number && Element.TryGetInt64(out var v) ? v : throw Wrong("a whole number");

        public long? LongOrNull() => IsNull ? null : Long();

        public double Double() => Element.ValueKind == JsonValueKind.Number ? Element.GetDouble() : throw Wrong("a number");

        public double? DoubleOrNull() => IsNull ? null : Double();

        private bool IsNull => Element.ValueKind == JsonValueKind.Null;

        private CompressionException Wrong(string expected)
        {
            var found = Element.GetRawText();
            return Invalid(File, $"'{Location}' should be {expected} but is {(found.Length > 40 ? found[..40] + "…" : found)}");
        }
    }
}
