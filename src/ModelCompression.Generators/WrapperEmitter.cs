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
internal static class WrapperEmitter
{
    internal const string Ort = "global::Microsoft.ML.OnnxRuntime";

    public static string Emit(WrapperModel model) => GeneratedFile.Write(model, code => EmitClass(code, model));

    private static void EmitClass(CodeWriter code, WrapperModel model)
    {
        var tensors = model.Inputs.Concat(model.Outputs).ToList();
        var name = model.ClassName;

        code.Line("/// <summary>");
        code.Line($"/// Runs the ONNX model <c>{Xml(model.ModelPath)}</c> with ONNX Runtime over pinned buffers that are bound once:");
        code.Line("/// write the input spans, call <see cref=\"Run\"/>, read the output spans. <see cref=\"Run\"/> allocates no managed memory.");
        code.Line("/// </summary>");
        code.Line("/// <remarks>");
        code.Line("/// Each tensor's property is named after its ONNX name in PascalCase (made unique); its documentation gives the ONNX name.");
        code.Line("/// An instance runs one inference at a time: it is not thread-safe.");
        code.Line($"/// For many threads, rent instances that share one session from <see cref=\"{PoolEmitter.PoolName(model)}\"/>.");
        code.Line("/// </remarks>");
        code.Line($"public sealed partial class {name} : global::System.IDisposable");
        code.Open();

        code.Line("/// <summary>The model file, relative to <see cref=\"global::System.AppContext.BaseDirectory\"/>.</summary>");
        code.Line($"public const string ModelPath = {SymbolDisplay.FormatLiteral(model.ModelPath, quote: true)};");
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

        code.Line($"private readonly {Ort}.SessionOptions? _ownedOptions;");
        code.Line($"private readonly {Ort}.InferenceSession _session;");
        code.Line("private readonly bool _ownsSession;");
        code.Line($"private readonly {Ort}.RunOptions _runOptions;");
        code.Line($"private readonly {Ort}.OrtIoBinding _binding;");
        foreach (var tensor in tensors)
        {
            code.Line($"private readonly {tensor.ElementType.CSharpName}[] {MemberNames.BufferField(tensor.PropertyName)};");
            code.Line($"private readonly {Ort}.OrtValue {MemberNames.ValueField(tensor.PropertyName)};");
        }
        code.Line("private bool _disposed;");
        code.Line();

        EmitConstructors(code, model, tensors);

        foreach (var tensor in model.Inputs) EmitTensorMembers(code, tensor, isInput: true);
        foreach (var tensor in model.Outputs) EmitTensorMembers(code, tensor, isInput: false);

        code.Line("/// <summary>Runs the model on the current input spans and writes the output spans. Allocates no managed memory.</summary>");
        code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The wrapper has been disposed.</exception>");
        code.Line("public void Run()");
        code.Open();
        code.Line("global::System.ObjectDisposedException.ThrowIf(_disposed, this);");
        code.Line("_session.RunWithBinding(_runOptions, _binding);");
        code.Close();
        code.Line();

        code.Line("/// <summary>Releases the ONNX Runtime session and tensors (and the session options, if the wrapper created them).</summary>");
        code.Line("public void Dispose()");
        code.Open();
        code.Line("if (_disposed) return;");
        code.Line("_disposed = true;");
        code.Line("// Also called from a constructor that failed half-way: any of these may still be null.");
        code.Line("_binding?.Dispose();");
        foreach (var tensor in tensors) code.Line($"{MemberNames.ValueField(tensor.PropertyName)}?.Dispose();");
        code.Line("_runOptions?.Dispose();");
        code.Line("if (_ownsSession) _session?.Dispose();");
        code.Line("_ownedOptions?.Dispose();");
        code.Close();
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

    private static void EmitConstructors(CodeWriter code, WrapperModel model, System.Collections.Generic.IReadOnlyList<TensorModel> tensors)
    {
        const string DefaultPath = "global::System.IO.Path.Combine(global::System.AppContext.BaseDirectory, ModelPath)";
        var name = model.ClassName;

        code.Line("/// <summary>Loads the model from <see cref=\"ModelPath\"/> beside the application, with default session options.</summary>");
        code.Line($"public {name}()");
        code.Line($"    : this({DefaultPath}, null)");
        code.Open();
        code.Close();
        code.Line();

        code.Line("/// <summary>Loads the model from <see cref=\"ModelPath\"/> beside the application.</summary>");
        code.Line("/// <param name=\"options\">The session options; the caller keeps ownership and disposes them.</param>");
        code.Line($"public {name}({Ort}.SessionOptions options)");
        code.Line($"    : this({DefaultPath}, options)");
        code.Open();
        code.Close();
        code.Line();

        code.Line("/// <summary>Loads the model from <paramref name=\"modelPath\"/>.</summary>");
        code.Line("/// <param name=\"modelPath\">The ONNX model file.</param>");
        code.Line("/// <param name=\"options\">The session options, which the caller keeps ownership of; null for default options.</param>");
        code.Line($"public {name}(string modelPath, {Ort}.SessionOptions? options = null)");
        code.Open();
        code.Line("global::System.ArgumentNullException.ThrowIfNull(modelPath);");
        code.Line("try");
        code.Open();
        code.Line("if (options is null)");
        code.Open();
        code.Line($"_ownedOptions = new {Ort}.SessionOptions();");
        code.Line("options = _ownedOptions;");
        code.Close();
        code.Line($"_session = new {Ort}.InferenceSession(modelPath, options);");
        code.Line("_ownsSession = true;");
        EmitBindings(code, model, tensors);
        EmitDisposeOnFailure(code);

        code.Line("/// <summary>Runs on a session the caller created: several wrappers may share one session, each used by one thread at a time.</summary>");
        code.Line("/// <param name=\"session\">The session, which the caller keeps ownership of and disposes after every wrapper that uses it.</param>");
        code.Line($"public {name}({Ort}.InferenceSession session)");
        code.Open();
        code.Line("global::System.ArgumentNullException.ThrowIfNull(session);");
        code.Line("_session = session;");
        code.Line("try");
        code.Open();
        EmitBindings(code, model, tensors);
        EmitDisposeOnFailure(code);
    }

    // Ends a constructor's try block: a constructor that throws releases what it created.
    private static void EmitDisposeOnFailure(CodeWriter code)
    {
        code.Close();
        code.Line("catch");
        code.Open();
        code.Line("Dispose();");
        code.Line("throw;");
        code.Close();
        code.Close();
        code.Line();
    }

    // The run options, the binding and one pinned buffer per tensor, bound once.
    private static void EmitBindings(CodeWriter code, WrapperModel model, System.Collections.Generic.IReadOnlyList<TensorModel> tensors)
    {
        code.Line($"_runOptions = new {Ort}.RunOptions();");
        code.Line("_binding = _session.CreateIoBinding();");
        foreach (var tensor in tensors)
        {
            var buffer = MemberNames.BufferField(tensor.PropertyName);
            var value = MemberNames.ValueField(tensor.PropertyName);
            var bind = model.Inputs.Contains(tensor) ? "BindInput" : "BindOutput";
            code.Line();
            code.Line($"{buffer} = global::System.GC.AllocateArray<{tensor.ElementType.CSharpName}>({MemberNames.LengthName(tensor.PropertyName)}, pinned: true);");
            code.Line($"{value} = CreatePinnedTensor({buffer}, {MemberNames.ShapeField(tensor.PropertyName)}, {Ort}.Tensors.TensorElementType.{tensor.ElementType.OrtName});");
            code.Line($"_binding.{bind}({SymbolDisplay.FormatLiteral(tensor.OnnxName, quote: true)}, {value});");
        }
    }

    private static void EmitTensorMembers(CodeWriter code, TensorModel tensor, bool isInput)
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
