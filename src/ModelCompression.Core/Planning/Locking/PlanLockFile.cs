using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.IO;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// Reads and writes the plan lock, <c>&lt;model&gt;.compression.lock.json</c> beside the source model, as JSON
/// meant for version control: a fixed property order, two-space indentation, '\n' line endings, no
/// timestamps, no absolute paths and no run-to-run measurements, so that the same inputs give the same
/// bytes and a changed plan reads as a small diff. Each plan carries a fingerprint of its own content:
/// a plan edited by hand (or merged badly) is refused rather than applied.
/// </summary>
public static class PlanLockFile
{
    public const string Extension = ".compression.lock.json";

    /// <summary>A lock file is refused beyond this size, before it is read: a plan takes a few KB, so only a corrupt or hostile file is larger.</summary>
    public const int MaxLockBytes = 16 << 20;

    /// <summary>How long a build waits for another one that updates the same lock file.</summary>
    public static TimeSpan UpdateTimeout { get; } = TimeSpan.FromMinutes(5);

    /// <summary><c>&lt;model dir&gt;/&lt;model name without extension&gt;.compression.lock.json</c>.</summary>
    public static string DefaultPath(string modelPath) =>
        Path.Combine(Path.GetDirectoryName(modelPath) ?? "", Path.GetFileNameWithoutExtension(modelPath) + Extension);

    /// <summary>The request's <see cref="CompressionRequest.LockPath"/>, or the <see cref="DefaultPath"/> beside its model.</summary>
    public static string PathFor(CompressionRequest request) => request.LockPath ?? DefaultPath(request.ModelPath);

    /// <summary>Writes <paramref name="locks"/> to <paramref name="path"/> atomically.</summary>
    /// <exception cref="CompressionException">MC6001 the file cannot be written.</exception>
    public static void Write(string path, PlanLockSet locks) => AtomicFile.WriteAllText(path, ToJson(locks));

    /// <summary>
    /// Puts <paramref name="plan"/> into the lock at <paramref name="path"/> (<see cref="PlanLockSet.With"/>): read, merge
    /// and write under a lock that other builds of the same lock file respect, so none loses another's plan.
    /// </summary>
    /// <exception cref="CompressionException">MC5004 the lock on disk cannot be read; MC6001 it cannot be written.</exception>
    public static void Update(string path, PlanLock plan)
    {
        using var guard = CrossProcessLock.Acquire(Path.GetFullPath(path), UpdateTimeout, path);
        Write(path, Read(path).With(plan));
    }

    /// <summary>Reads the lock at <paramref name="path"/>; <see cref="PlanLockSet.Empty"/> when there is none.</summary>
    /// <exception cref="CompressionException">MC5004 the file is not a plan lock this tool can read, or a plan was edited.</exception>
    public static PlanLockSet Read(string path)
    {
        if (!File.Exists(path)) return PlanLockSet.Empty;
        string json;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxLockBytes)
                throw Invalid(path, $"it is {length} bytes, more than any lock this tool writes ({MaxLockBytes} at most; a plan takes a few KB)");
            json = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(path, $"it cannot be read ({e.Message})", e);
        }
        return Parse(json, path);
    }

    public static string ToJson(PlanLockSet locks)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Options(indented: true)))
        {
            json.WriteStartObject();
            json.WriteNumber("formatVersion", PlanLock.FormatVersion);
            json.WriteStartArray("plans");
            foreach (var plan in locks.Plans) WritePlan(json, plan, Fingerprint(plan));
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>The SHA-256 of <paramref name="plan"/>'s content (inputs, plan, results): what its <c>fingerprint</c> holds.</summary>
    public static string Fingerprint(PlanLock plan)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Options(indented: false))) WritePlan(json, plan, fingerprint: null);
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    /// <summary>Parses a lock's JSON; <paramref name="path"/> names the file in errors.</summary>
    /// <exception cref="CompressionException">MC5004 the text is not a plan lock this tool can read, or a plan was edited.</exception>
    public static PlanLockSet Parse(string json, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"it is not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var root = new Node(document.RootElement, "", path);
            var version = root.Property("formatVersion").Int();
            if (version < PlanLock.OldestReadFormat && version >= 1) return PlanLockSet.Outdated(version);
            if (version is < PlanLock.OldestReadFormat or > PlanLock.FormatVersion)
                throw Invalid(path, $"it is in lock format version {version}, and this tool ({Compressor.ToolVersion}) reads versions {PlanLock.OldestReadFormat} to {PlanLock.FormatVersion}");
            var plans = root.Property("plans").Items().Select(ReadPlan).ToList();
            if (PlanLockSet.SameSettings(plans) is { } same)
                throw Invalid(path, $"'plans[{string.Join("]' and 'plans[", same)}]' are for the same settings");
            return PlanLockSet.Of(plans);
        }
    }

    private static PlanLock ReadPlan(Node node)
    {
        var settings = node.Property("settings");
        var inputs = node.Property("inputs");
        var achieved = node.Property("achieved");
        var lockInputs = new LockInputs(
            node.Property("toolVersion").String(),
            inputs.Property("modelSha256").Hash(),
            inputs.Property("validationDataSha256").HashOrNull(),
            inputs.Property("calibrationDataSha256").HashOrNull(),
            new LockSettings(
                settings.Property("metric").String(),
                settings.Property("techniques").String(),
                settings.Property("maxAccuracyDrop").Double(),
                settings.Property("maxSizeBytes").LongOrNull(),
                settings.Property("maxLatencyMilliseconds").DoubleOrNull(),
                settings.Property("validationData").StringOrNull(),
                settings.Property("calibrationData").StringOrNull(),
                settings.OptionalProperty("trainingData")?.StringOrNull()),
            inputs.OptionalProperty("trainingDataSha256")?.HashOrNull());
        var plan = new Plan(node.Property("plan").Items().Select(step =>
            new PassStep(step.Property("pass").String(), step.Property("parameters").Properties().Select(p => KeyValuePair.Create(p.Name, p.Value.String())))));
        var result = new LockedResult(
            achieved.Property("candidate").String(),
            achieved.Property("searchScore").DoubleOrNull(),
            achieved.Property("validationScore").Double(),
            achieved.Property("originalScore").Double(),
            achieved.Property("sizeBytes").Long(),
            achieved.Property("originalSizeBytes").Long());
        var locked = new PlanLock(lockInputs, node.Property("onnxRuntimeVersion").String(), plan, result, node.Property("compressedModelSha256").Hash(),
            node.OptionalProperty("platform")?.Platform());
        var fingerprint = node.Property("fingerprint");
        if (fingerprint.Hash() != Fingerprint(locked))
            throw Invalid(node.File, $"'{node.Location}' was changed after it was written: its content does not match its 'fingerprint', so it may not describe a plan this tool chose");
        return locked;
    }

    private static void WritePlan(Utf8JsonWriter json, PlanLock plan, string? fingerprint)
    {
        var inputs = plan.Inputs;
        var settings = inputs.Settings;
        var result = plan.Result;
        json.WriteStartObject();
        json.WriteStartObject("settings");
        json.WriteString("metric", settings.Metric);
        json.WriteString("techniques", settings.Techniques);
        json.WriteNumber("maxAccuracyDrop", settings.MaxAccuracyDrop);
        WriteNumberOrNull(json, "maxSizeBytes", settings.MaxSizeBytes);
        WriteNumberOrNull(json, "maxLatencyMilliseconds", settings.MaxLatencyMilliseconds);
        json.WriteString("validationData", settings.ValidationData);
        json.WriteString("calibrationData", settings.CalibrationData);
        // Only for plans that may distil: the plans (and fingerprints) of the others read as before.
        if (settings.TrainingData is not null) json.WriteString("trainingData", settings.TrainingData);
        json.WriteEndObject();

        json.WriteString("toolVersion", inputs.ToolVersion);
        json.WriteString("onnxRuntimeVersion", plan.OnnxRuntimeVersion);
        json.WriteStartObject("inputs");
        json.WriteString("modelSha256", inputs.ModelSha256);
        json.WriteString("validationDataSha256", inputs.ValidationDataSha256);
        json.WriteString("calibrationDataSha256", inputs.CalibrationDataSha256);
        if (inputs.TrainingDataSha256 is not null) json.WriteString("trainingDataSha256", inputs.TrainingDataSha256);
        json.WriteEndObject();

        json.WriteStartArray("plan");
        foreach (var step in plan.Plan.Steps)
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
        json.WriteEndObject();

        json.WriteString("compressedModelSha256", plan.CompressedModelSha256);
        // Absent from plans written in format 2 (and kept in a newer file): their fingerprints read as before.
        if (plan.Platform is not null) json.WriteString("platform", plan.Platform);
        if (fingerprint is not null) json.WriteString("fingerprint", fingerprint);
        json.WriteEndObject();
    }

    private static JsonWriterOptions Options(bool indented) => new()
    {
        Indented = indented,
        NewLine = "\n",
        // Node names and labels stay readable ('→', '<', '+'); the file is never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

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

        /// <summary>A property that older locks do not have: null when absent.</summary>
        public Node? OptionalProperty(string name)
        {
            if (Element.ValueKind != JsonValueKind.Object)
                throw Invalid(File, $"'{(Location.Length == 0 ? "the file" : Location)}' is not a JSON object");
            return Element.TryGetProperty(name, out var value) ? new Node(value, Location.Length == 0 ? name : $"{Location}.{name}", File) : null;
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

        public string? StringOrNull() => IsNull ? null : String();

        public string Hash()
        {
            var text = String();
            return text.Length == 64 && text.All(char.IsAsciiHexDigitLower) ? text : throw Wrong("a SHA-256 in lowercase hex (64 characters)");
        }

        public string? HashOrNull() => IsNull ? null : Hash();

        public string Platform()
        {
            var text = String();
            return text.Length is > 0 and <= 64 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_')
                ? text
                : throw Wrong("a runtime identifier such as \"linux-x64\"");
        }

        public int Int() => Element.ValueKind == JsonValueKind.Number && Element.TryGetInt32(out var v) ? v : throw Wrong("a whole number");

        public long Long() => Element.ValueKind == JsonValueKind.Number && Element.TryGetInt64(out var v) ? v : throw Wrong("a whole number");

        public long? LongOrNull() => IsNull ? null : Long();

        public double Double() =>
            Element.ValueKind == JsonValueKind.Number && Element.TryGetDouble(out var v) && double.IsFinite(v) ? v : throw Wrong("a number");

        public double? DoubleOrNull() => IsNull ? null : Double();

        private bool IsNull => Element.ValueKind == JsonValueKind.Null;

        private CompressionException Wrong(string expected)
        {
            var found = Element.GetRawText();
            return Invalid(File, $"'{Location}' should be {expected} but is {(found.Length > 40 ? found[..40] + "…" : found)}");
        }
    }
}
