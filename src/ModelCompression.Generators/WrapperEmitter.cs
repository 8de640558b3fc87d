using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;

namespace ModelCompression.Generators;

/// <summary>
/// Writes the wrapper class for a <see cref="WrapperModel"/>. Only writes: every decision (names, types, shapes)
/// was made by the parser. Type names are fully qualified with <c>global::</c> so that no using or alias in the
/// user's project can change what they mean.
/// </summary>
internal static partial class WrapperEmitter
{
    internal const string Ort = "global::Microsoft.ML.OnnxRuntime";

    public static string Emit(WrapperModel model) => GeneratedFile.Write(model, code => EmitClass(code, model));

    private static void EmitClass(CodeWriter code, WrapperModel model)
    {
        var tensors = model.Inputs.Concat(model.Outputs).ToList();
        var name = model.ClassName;
        var run = RunCref(model);

        code.Line("/// <summary>");
        code.Line($"/// Runs the ONNX model <c>{Xml(model.ModelPath)}</c> with ONNX Runtime over pinned buffers that are bound once{(model.HasVariableShapes ? " per shape" : "")}:");
        code.Line($"/// write the input spans, call <see cref=\"{run}\"/>, read the output spans. <see cref=\"{run}\"/> allocates no managed memory{(model.HasVariableShapes ? " once it has run at the current shape" : "")}.");
        code.Line("/// </summary>");
        code.Line("/// <remarks>");
        code.Line("/// Each tensor's property is named after its ONNX name in PascalCase (made unique); its documentation gives the ONNX name.");
        code.Line("/// An instance is not thread-safe: it runs one inference at a time over its own buffers. For several threads, give each");
        code.Line($"/// thread its own instance; instances can share one loaded model through the constructor taking an InferenceSession,");
        code.Line($"/// or be rented from <see cref=\"{PoolEmitter.PoolName(model)}\"/>.");
        code.Line("/// </remarks>");
        code.Line($"public sealed partial class {name} : global::System.IDisposable");
        code.Open();

        code.Line("/// <summary>The model file, relative to <see cref=\"global::System.AppContext.BaseDirectory\"/>.</summary>");
        code.Line($"public const string ModelPath = {SymbolDisplay.FormatLiteral(model.ModelPath, quote: true)};");
        if (model.EmbeddedResourceName is { } resource)
        {
            code.Line();
            code.Line("/// <summary>The manifest resource holding the model, which the constructors without a model path load.</summary>");
            code.Line($"public const string EmbeddedResourceName = {SymbolDisplay.FormatLiteral(resource, quote: true)};");
        }
        if (model.HasVariableShapes)
        {
            EmitVariableShapeClass(code, model);
        }
        else
        {
            EmitFixedShapeClass(code, model, tensors);
        }
        if (model.EmbeddedResourceName is not null) EmitReadEmbeddedModel(code, model);

        code.Line();
        code.Line("// A tensor over the pinned array's memory: ONNX Runtime reads and writes the array in place.");
        code.Line($"private static {Ort}.OrtValue CreatePinnedTensor<T>(T[] buffer, long[] shape, {Ort}.Tensors.TensorElementType elementType)");
        code.Line("    where T : unmanaged");
        code.Open();
        code.Line($"return {Ort}.OrtValue.CreateTensorValueWithData(");
        code.Line($"    {Ort}.OrtMemoryInfo.DefaultInstance,");
        code.Line("    elementType,");
        code.Line("    shape,");
        code.Line("    global::System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0),");
        code.Line("    (long)buffer.Length * global::System.Runtime.CompilerServices.Unsafe.SizeOf<T>());");
        code.Close();

        code.Close();
    }

    // Overloaded Run needs the parameter list in a cref, or the reference is ambiguous (CS0419).
    private static string RunCref(WrapperModel model) => model.MaxBatchSize is null ? "Run" : "Run()";

    /// <summary>Every shape fixed: one binding, made in the constructor.</summary>
    private static void EmitFixedShapeClass(CodeWriter code, WrapperModel model, System.Collections.Generic.IReadOnlyList<TensorModel> tensors)
    {
        foreach (var tensor in tensors)
        {
            code.Line();
            code.Line($"/// <summary>The number of elements of <see cref=\"{tensor.PropertyName}\"/>.</summary>");
            code.Line($"public const int {MemberNames.LengthName(tensor.PropertyName)} = {tensor.ElementCount.ToString(CultureInfo.InvariantCulture)};");
        }
        code.Line();

        foreach (var tensor in tensors)
            code.Line($"private static readonly long[] {MemberNames.ShapeField(tensor.PropertyName)} = {ShapeArray(tensor)};");
        code.Line();

        EmitSessionFields(code);
        code.Line($"private readonly {Ort}.OrtIoBinding _binding;");
        foreach (var tensor in tensors)
        {
            code.Line($"private readonly {tensor.ElementType.CSharpName}[] {MemberNames.BufferField(tensor.PropertyName)};");
            code.Line($"private readonly {Ort}.OrtValue {MemberNames.ValueField(tensor.PropertyName)};");
        }
        code.Line("private bool _disposed;");
        code.Line();

        EmitConstructors(code, model, () =>
        {
            code.Line("_binding = _session.CreateIoBinding();");
            foreach (var tensor in tensors)
            {
                var buffer = MemberNames.BufferField(tensor.PropertyName);
                var value = MemberNames.ValueField(tensor.PropertyName);
                var bind = model.Inputs.Contains(tensor) ? "BindInput" : "BindOutput";
                code.Line();
                code.Line($"{buffer} = global::System.GC.AllocateArray<{tensor.ElementType.CSharpName}>({MemberNames.LengthName(tensor.PropertyName)}, pinned: true);");
                code.Line($"{value} = CreatePinnedTensor({buffer}, {MemberNames.ShapeField(tensor.PropertyName)}, {OrtElementType(tensor)});");
                code.Line($"_binding.{bind}({Literal(tensor.OnnxName)}, {value});");
            }
        });

        foreach (var tensor in model.Inputs) EmitFixedTensorMembers(code, tensor, isInput: true);
        foreach (var tensor in model.Outputs) EmitFixedTensorMembers(code, tensor, isInput: false);

        code.Line("/// <summary>Runs the model on the current input spans and writes the output spans. Allocates no managed memory.</summary>");
        code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The wrapper has been disposed.</exception>");
        code.Line("public void Run()");
        code.Open();
        code.Line("global::System.ObjectDisposedException.ThrowIf(_disposed, this);");
        code.Line("_session.RunWithBinding(_runOptions, _binding);");
        code.Close();
        code.Line();

        EmitDispose(code, () =>
        {
            code.Line("_binding?.Dispose();");
            foreach (var tensor in tensors) code.Line($"{MemberNames.ValueField(tensor.PropertyName)}?.Dispose();");
        });
    }

    private static void EmitSessionFields(CodeWriter code)
    {
        code.Line($"private readonly {Ort}.SessionOptions? _ownedOptions;");
        code.Line($"private readonly {Ort}.InferenceSession? _ownedSession;");
        code.Line($"private readonly {Ort}.InferenceSession _session;");
        code.Line($"private readonly {Ort}.RunOptions _runOptions;");
    }

    /// <summary>The public constructors, all routed through one private constructor that opens or takes the session,
    /// then runs <paramref name="emitBody"/> (which binds the tensors).</summary>
    private static void EmitConstructors(CodeWriter code, WrapperModel model, System.Action emitBody)
    {
        var name = model.ClassName;
        var source = model.EmbeddedResourceName is null
            ? "<see cref=\"ModelPath\"/> beside the application"
            : "the embedded resource <see cref=\"EmbeddedResourceName\"/>";

        code.Line($"/// <summary>Loads the model from {source}, with default session options.</summary>");
        code.Line($"public {name}()");
        code.Line("    : this(null, null, null)");
        code.Open();
        code.Close();
        code.Line();

        code.Line($"/// <summary>Loads the model from {source}.</summary>");
        code.Line("/// <param name=\"options\">The session options; the caller keeps ownership and disposes them.</param>");
        code.Line($"public {name}({Ort}.SessionOptions options)");
        code.Line("    : this(null, null, options)");
        code.Open();
        code.Close();
        code.Line();

        code.Line("/// <summary>Loads the model from <paramref name=\"modelPath\"/>.</summary>");
        code.Line("/// <param name=\"modelPath\">The ONNX model file.</param>");
        code.Line("/// <param name=\"options\">The session options, which the caller keeps ownership of; null for default options.</param>");
        code.Line($"public {name}(string modelPath, {Ort}.SessionOptions? options = null)");
        code.Line("    : this(null, modelPath ?? throw new global::System.ArgumentNullException(nameof(modelPath)), options)");
        code.Open();
        code.Close();
        code.Line();

        code.Line("/// <summary>Runs the model of <paramref name=\"session\"/>, which several instances (on several threads) may share.</summary>");
        code.Line("/// <param name=\"session\">A session of this model; the caller keeps ownership and disposes it after every instance that uses it.</param>");
        code.Line($"public {name}({Ort}.InferenceSession session)");
        code.Line("    : this(session ?? throw new global::System.ArgumentNullException(nameof(session)), null, null)");
        code.Open();
        code.Close();
        code.Line();

        code.Line("// Every constructor comes here: a shared session is used as it is, otherwise the wrapper opens (and owns) one.");
        code.Line($"private {name}({Ort}.InferenceSession? session, string? modelPath, {Ort}.SessionOptions? options)");
        code.Open();
        code.Line("try");
        code.Open();
        code.Line("if (session is null)");
        code.Open();
        code.Line("if (options is null)");
        code.Open();
        code.Line($"_ownedOptions = new {Ort}.SessionOptions();");
        code.Line("options = _ownedOptions;");
        code.Close();
        code.Line(model.EmbeddedResourceName is null
            ? $"_ownedSession = new {Ort}.InferenceSession(modelPath ?? global::System.IO.Path.Combine(global::System.AppContext.BaseDirectory, ModelPath), options);"
            : $"_ownedSession = modelPath is null ? new {Ort}.InferenceSession(ReadEmbeddedModel(), options) : new {Ort}.InferenceSession(modelPath, options);");
        code.Line("session = _ownedSession;");
        code.Close();
        code.Line("_session = session;");
        code.Line($"_runOptions = new {Ort}.RunOptions();");
        emitBody();
        code.Close();
        code.Line("catch");
        code.Open();
        code.Line("Dispose();");
        code.Line("throw;");
        code.Close();
        code.Close();
        code.Line();
    }

    private static void EmitDispose(CodeWriter code, System.Action emitReleaseTensors)
    {
        code.Line("/// <summary>Releases the tensors and bindings (and the session and session options, if the wrapper created them).</summary>");
        code.Line("public void Dispose()");
        code.Open();
        code.Line("if (_disposed) return;");
        code.Line("_disposed = true;");
        code.Line("// Also called from a constructor that failed half-way: any of these may still be null.");
        emitReleaseTensors();
        code.Line("_runOptions?.Dispose();");
        code.Line("_ownedSession?.Dispose();");
        code.Line("_ownedOptions?.Dispose();");
        code.Close();
    }

    private static void EmitReadEmbeddedModel(CodeWriter code, WrapperModel model)
    {
        code.Line();
        code.Line("// Internal: the pool loads its shared session from it too.");
        code.Line("internal static byte[] ReadEmbeddedModel()");
        code.Open();
        code.Line($"using var stream = typeof({model.ClassName}).Assembly.GetManifestResourceStream(EmbeddedResourceName)");
        code.Line("    ?? throw new global::System.InvalidOperationException(");
        code.Line($"        \"The assembly \" + typeof({model.ClassName}).Assembly.GetName().Name + \" has no embedded resource '\" + EmbeddedResourceName + \"': build it with Embed=\\\"true\\\" on the CompressedModel item.\");");
        code.Line("var bytes = new byte[stream.Length];");
        code.Line("stream.ReadExactly(bytes);");
        code.Line("return bytes;");
        code.Close();
    }

    private static void EmitFixedTensorMembers(CodeWriter code, TensorModel tensor, bool isInput)
    {
        var description = $"<c>{Xml(tensor.OnnxName)}</c>: {tensor.ElementType.OnnxName}, shape {Shape(tensor)}";
        if (isInput)
        {
            code.Line($"/// <summary>Input {description}. Write it before <see cref=\"Run\"/>.</summary>");
            code.Line($"public global::System.Span<{tensor.ElementType.CSharpName}> {tensor.PropertyName} => {MemberNames.BufferField(tensor.PropertyName)};");
        }
        else
        {
            code.Line($"/// <summary>Output {description}. Read it after <see cref=\"Run\"/>.</summary>");
            code.Line($"public global::System.ReadOnlySpan<{tensor.ElementType.CSharpName}> {tensor.PropertyName} => {MemberNames.BufferField(tensor.PropertyName)};");
        }
        code.Line();
        code.Line($"/// <summary>The shape of <see cref=\"{tensor.PropertyName}\"/>: {Shape(tensor)}.</summary>");
        code.Line($"public static global::System.ReadOnlySpan<long> {MemberNames.ShapeName(tensor.PropertyName)} => {MemberNames.ShapeField(tensor.PropertyName)};");
        code.Line();
    }

    private static string OrtElementType(TensorModel tensor) => $"{Ort}.Tensors.TensorElementType.{tensor.ElementType.OrtName}";

    private static string Literal(string text) => SymbolDisplay.FormatLiteral(text, quote: true);

    private static string ShapeArray(TensorModel tensor) =>
        tensor.Shape.Count == 0
            ? "global::System.Array.Empty<long>()"
            : $"new long[] {{ {string.Join(", ", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))} }}";

    private static string Shape(TensorModel tensor) =>
        tensor.Shape.Count == 0
            ? "[] (a scalar)"
            : $"[{string.Join(", ", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]";

    /// <summary>Text safe inside an XML doc comment line.</summary>
    internal static string Xml(string text) =>
        Comment(text).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    /// <summary>Text safe inside a single-line comment: control characters (a line break would end it) shown as escapes.</summary>
    internal static string Comment(string text)
    {
        if (!text.Any(char.IsControl)) return text;
        var result = new StringBuilder(text.Length + 8);
        foreach (var c in text)
            result.Append(char.IsControl(c) ? "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) : c.ToString());
        return result.ToString();
    }

    /// <summary>Lines with four-space indentation and '\n' line ends, so the output is the same on every OS.</summary>
    internal sealed class CodeWriter
    {
        private readonly StringBuilder _text = new();
        private int _indent;

        public void Line(string line = "")
        {
            if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
            _text.Append('\n');
        }

        public void Open()
        {
            Line("{");
            _indent++;
        }

        /// <param name="after">What follows the brace on its line, e.g. ");".</param>
        public void Close(string after = "")
        {
            _indent--;
            Line("}" + after);
        }

        public override string ToString() => _text.ToString();
    }
}
