using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace ModelCompression.Generators;

/// <summary>
/// The wrapper of a model whose shapes change at run time (a batch size up to MaxBatchSize, free dimensions set with
/// <c>SetInputSizes</c>). One binding per batch size, made on that batch size's first run at the current sizes: the
/// inputs are bound over their pinned buffers, the outputs are first allocated by ONNX Runtime (their shapes may depend
/// on the inputs), then copied into pinned buffers that are bound for the next runs. A size change drops the bindings.
/// </summary>
internal static partial class WrapperEmitter
{
    private static void EmitVariableShapeClass(CodeWriter code, WrapperModel model)
    {
        var batches = model.MaxBatchSize is { } max ? max.ToString(CultureInfo.InvariantCulture) : null;
        if (batches is not null)
        {
            code.Line();
            code.Line("/// <summary>The largest batch <see cref=\"Run(int)\"/> takes; the input spans have room for this many samples.</summary>");
            code.Line($"public const int MaxBatchSize = {batches};");
        }
        code.Line();

        EmitSessionFields(code);
        code.Line("// One binding per batch size (index 0 unused), made on the first run at that batch size and the current sizes.");
        code.Line($"private readonly Binding?[] _bindings = new Binding?[{(batches is null ? "2" : "MaxBatchSize + 1")}];");
        code.Line("private Binding? _current;");
        foreach (var dimension in model.FreeDimensions)
            code.Line($"private long {dimension.FieldName} = {dimension.InitialSize.ToString(CultureInfo.InvariantCulture)};");
        foreach (var tensor in model.Inputs)
        {
            code.Line($"private {tensor.ElementType.CSharpName}[] {MemberNames.BufferField(tensor.PropertyName)} = global::System.Array.Empty<{tensor.ElementType.CSharpName}>();");
            code.Line($"private long[] {MemberNames.CurrentShapeField(tensor.PropertyName)} = global::System.Array.Empty<long>();");
            code.Line($"private int {MemberNames.LengthField(tensor.PropertyName)};");
        }
        foreach (var tensor in model.Outputs)
            code.Line($"private {tensor.ElementType.CSharpName}[] {MemberNames.BufferField(tensor.PropertyName)} = global::System.Array.Empty<{tensor.ElementType.CSharpName}>();");
        code.Line("private bool _disposed;");
        code.Line();

        EmitConstructors(code, model, () =>
        {
            foreach (var tensor in model.Inputs.Where(t => HasMaxShape(model, t)))
            {
                code.Line("// Every free dimension of this input has a maximum (MaxSizes): its buffer has its largest size from the start.");
                code.Line($"{MemberNames.BufferField(tensor.PropertyName)} = global::System.GC.AllocateArray<{tensor.ElementType.CSharpName}>(ElementCount({InputShape(model, tensor, "MaxBatchSize", maxSizes: true)}), pinned: true);");
            }
            code.Line("ResizeInputs();");
        });

        foreach (var tensor in model.Inputs) EmitInputMembers(code, model, tensor);
        for (var i = 0; i < model.Outputs.Count; i++) EmitOutputMembers(code, model, model.Outputs[i], i);
        if (model.FreeDimensions.Count > 0) EmitSetInputSizes(code, model);
        EmitRun(code, model);
        EmitBindAndRun(code, model);
        EmitResizeInputs(code, model);

        code.Line("// The bindings refer to buffers and shapes that changed: each is made again on its next run.");
        code.Line("private void ReleaseBindings()");
        code.Open();
        code.Line("_current = null;");
        code.Line("for (var i = 0; i < _bindings.Length; i++)");
        code.Open();
        code.Line("_bindings[i]?.Dispose();");
        code.Line("_bindings[i] = null;");
        code.Close();
        code.Close();
        code.Line();

        EmitDispose(code, () => code.Line("ReleaseBindings();"));
        code.Line();

        code.Line("private static int ElementCount(long[] shape)");
        code.Open();
        code.Line("long count = 1;");
        code.Line("foreach (var dimension in shape) count = checked(count * dimension);");
        code.Line("return checked((int)count);");
        code.Close();
        code.Line();

        EmitBindingClass(code);
    }

    private static bool HasMaxShape(WrapperModel model, TensorModel input) =>
        input.Axes.Any(a => a.Kind == AxisKind.Free) &&
        input.Axes.Where(a => a.Kind == AxisKind.Free).All(a => model.FreeDimensions[a.FreeDimension].MaxSize is not null);

    /// <summary>A C# expression creating the input's shape array: the batch axis is <paramref name="batch"/>, free dimensions their current size (or maximum).</summary>
    private static string InputShape(WrapperModel model, TensorModel input, string batch, bool maxSizes = false) =>
        input.Axes.Count == 0
            ? "global::System.Array.Empty<long>()"
            : "new long[] { " + string.Join(", ", input.Axes.Select(a => a.Kind switch
            {
                AxisKind.Batch => batch,
                AxisKind.Free when maxSizes => model.FreeDimensions[a.FreeDimension].MaxSize!.Value.ToString(CultureInfo.InvariantCulture),
                AxisKind.Free => model.FreeDimensions[a.FreeDimension].FieldName,
                _ => a.Size.ToString(CultureInfo.InvariantCulture),
            })) + " }";

    private static string DeclaredShape(TensorModel tensor) =>
        tensor.DeclaredShape.Count == 0 ? "[] (a scalar)" : $"[{Xml(string.Join(", ", tensor.DeclaredShape))}]";

    private static void EmitInputMembers(CodeWriter code, WrapperModel model, TensorModel tensor)
    {
        var room = !tensor.IsBatched ? "" : $" Room for <see cref=\"MaxBatchSize\"/> samples: sample i starts at i * {MemberNames.LengthName(tensor.PropertyName)} / MaxBatchSize.";
        code.Line($"/// <summary>Input <c>{Xml(tensor.OnnxName)}</c>: {tensor.ElementType.OnnxName}, shape {DeclaredShape(tensor)}, at the current sizes (<see cref=\"{MemberNames.ShapeName(tensor.PropertyName)}\"/>).{room} Write it before <see cref=\"{RunCref(model)}\"/>.</summary>");
        code.Line($"public global::System.Span<{tensor.ElementType.CSharpName}> {tensor.PropertyName} => new global::System.Span<{tensor.ElementType.CSharpName}>({MemberNames.BufferField(tensor.PropertyName)}, 0, {MemberNames.LengthField(tensor.PropertyName)});");
        code.Line();
        code.Line($"/// <summary>The number of elements of <see cref=\"{tensor.PropertyName}\"/>.</summary>");
        code.Line($"public int {MemberNames.LengthName(tensor.PropertyName)} => {MemberNames.LengthField(tensor.PropertyName)};");
        code.Line();
        EmitSampleLength(code, tensor);
        code.Line($"/// <summary>The shape of <see cref=\"{tensor.PropertyName}\"/>{(tensor.IsBatched ? ", with <see cref=\"MaxBatchSize\"/> samples" : "")}.</summary>");
        code.Line($"public global::System.ReadOnlySpan<long> {MemberNames.ShapeName(tensor.PropertyName)} => {MemberNames.CurrentShapeField(tensor.PropertyName)};");
        code.Line();
    }

    private static void EmitOutputMembers(CodeWriter code, WrapperModel model, TensorModel tensor, int index)
    {
        var i = index.ToString(CultureInfo.InvariantCulture);
        var samples = tensor.IsBatched ? " It starts at sample 0 and holds the samples of the last run." : "";
        code.Line($"/// <summary>Output <c>{Xml(tensor.OnnxName)}</c>: {tensor.ElementType.OnnxName}, shape {DeclaredShape(tensor)}, as the last run produced it (<see cref=\"{MemberNames.ShapeName(tensor.PropertyName)}\"/>); empty before the first run.{samples} Read it after <see cref=\"{RunCref(model)}\"/>.</summary>");
        code.Line($"public global::System.ReadOnlySpan<{tensor.ElementType.CSharpName}> {tensor.PropertyName} => _current is null ? default : new global::System.ReadOnlySpan<{tensor.ElementType.CSharpName}>({MemberNames.BufferField(tensor.PropertyName)}, 0, _current.OutputLengths[{i}]);");
        code.Line();
        code.Line($"/// <summary>The number of elements of <see cref=\"{tensor.PropertyName}\"/>.</summary>");
        code.Line($"public int {MemberNames.LengthName(tensor.PropertyName)} => _current?.OutputLengths[{i}] ?? 0;");
        code.Line();
        EmitSampleLength(code, tensor);
        code.Line($"/// <summary>The shape of <see cref=\"{tensor.PropertyName}\"/>, as ONNX Runtime computed it for the last run; empty before the first run.</summary>");
        code.Line($"public global::System.ReadOnlySpan<long> {MemberNames.ShapeName(tensor.PropertyName)} => _current is null ? default : _current.OutputShapes[{i}];");
        code.Line();
    }

    /// <summary>For a batched tensor whose other axes are all fixed: the elements of one sample, so that callers need not divide a length by the batch.</summary>
    private static void EmitSampleLength(CodeWriter code, TensorModel tensor)
    {
        // ElementCount is at the resolved batch size Shape[0]; a tensor with a free axis besides the batch has no fixed sample size.
        if (!tensor.IsBatched || tensor.Shape[0] < 1 || tensor.Axes.Skip(1).Any(a => a.Kind != AxisKind.Fixed)) return;
        var sampleLength = tensor.ElementCount / tensor.Shape[0];
        code.Line($"/// <summary>The number of elements of one sample of <see cref=\"{tensor.PropertyName}\"/>: sample i starts at i * {MemberNames.SampleLengthName(tensor.PropertyName)}.</summary>");
        code.Line($"public const int {MemberNames.SampleLengthName(tensor.PropertyName)} = {sampleLength.ToString(CultureInfo.InvariantCulture)};");
        code.Line();
    }

    private static void EmitSetInputSizes(CodeWriter code, WrapperModel model)
    {
        code.Line("/// <summary>");
        code.Line("/// Sets the sizes of the inputs' free dimensions for the next runs. The input spans then have the matching length; write");
        code.Line("/// the inputs after this call. A changed size re-binds on the next run (the buffers grow to the largest size seen, or have");
        code.Line("/// their maximum size from the start); the same sizes again cost nothing. Until called, the sizes are those of the first");
        code.Line("/// validation sample.");
        code.Line("/// </summary>");
        foreach (var dimension in model.FreeDimensions)
        {
            var limit = dimension.MaxSize is { } max ? $", at most {max.ToString(CultureInfo.InvariantCulture)} (MaxSizes)" : "";
            code.Line($"/// <param name=\"{dimension.ParameterName.TrimStart('@')}\">The size of dimension <c>{Xml(dimension.Name)}</c>: at least 1{limit}.</param>");
        }
        code.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\">A size is less than 1 or more than its maximum.</exception>");
        code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The wrapper has been disposed.</exception>");
        code.Line($"public void SetInputSizes({string.Join(", ", model.FreeDimensions.Select(d => "long " + d.ParameterName))})");
        code.Open();
        code.Line("global::System.ObjectDisposedException.ThrowIf(_disposed, this);");
        foreach (var dimension in model.FreeDimensions)
        {
            code.Line($"global::System.ArgumentOutOfRangeException.ThrowIfLessThan({dimension.ParameterName}, 1);");
            if (dimension.MaxSize is { } max)
                code.Line($"global::System.ArgumentOutOfRangeException.ThrowIfGreaterThan({dimension.ParameterName}, {max.ToString(CultureInfo.InvariantCulture)});");
        }
        code.Line($"if ({string.Join(" && ", model.FreeDimensions.Select(d => $"{d.ParameterName} == {d.FieldName}"))}) return;");
        foreach (var dimension in model.FreeDimensions) code.Line($"{dimension.FieldName} = {dimension.ParameterName};");
        code.Line("ResizeInputs();");
        code.Close();
        code.Line();
    }

    private static void EmitRun(CodeWriter code, WrapperModel model)
    {
        if (model.MaxBatchSize is null)
        {
            code.Line("/// <summary>Runs the model on the input spans and writes the output spans. Allocates no managed memory once it has run at the current sizes.</summary>");
            code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The wrapper has been disposed.</exception>");
            code.Line("public void Run() => RunBatch(1);");
            code.Line();
        }
        else
        {
            code.Line("/// <summary>Runs the model on the first sample of the input spans: <c>Run(1)</c>.</summary>");
            code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The wrapper has been disposed.</exception>");
            code.Line("public void Run() => RunBatch(1);");
            code.Line();
            code.Line("/// <summary>");
            code.Line("/// Runs the model on the first <paramref name=\"batchSize\"/> samples of the input spans; the output spans then hold");
            code.Line("/// <paramref name=\"batchSize\"/> samples, each as a run of that sample alone gives it. Allocates no managed memory once");
            code.Line("/// this batch size has run at the current sizes.");
            code.Line("/// </summary>");
            code.Line("/// <param name=\"batchSize\">From 1 to <see cref=\"MaxBatchSize\"/>.</param>");
            code.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\"><paramref name=\"batchSize\"/> is less than 1 or more than <see cref=\"MaxBatchSize\"/>.</exception>");
            code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The wrapper has been disposed.</exception>");
            code.Line("public void Run(int batchSize)");
            code.Open();
            code.Line("global::System.ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);");
            code.Line("global::System.ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, MaxBatchSize);");
            code.Line("RunBatch(batchSize);");
            code.Close();
            code.Line();
        }

        code.Line("private void RunBatch(int batchSize)");
        code.Open();
        code.Line("global::System.ObjectDisposedException.ThrowIf(_disposed, this);");
        code.Line("if (_bindings[batchSize] is { } binding)");
        code.Open();
        code.Line("_session.RunWithBinding(_runOptions, binding.IoBinding);");
        code.Line("_current = binding;");
        code.Close();
        code.Line("else");
        code.Open();
        code.Line("BindAndRun(batchSize);");
        code.Close();
        code.Close();
        code.Line();
    }

    private static void EmitBindAndRun(CodeWriter code, WrapperModel model)
    {
        code.Line("// The first run at this batch size and these sizes: ONNX Runtime allocates the outputs (their shapes may depend on");
        code.Line("// the inputs); they are copied into pinned buffers, which are bound for the next runs.");
        code.Line("private void BindAndRun(int batchSize)");
        code.Open();
        code.Line($"var binding = new Binding(_session.CreateIoBinding(), {model.Inputs.Count.ToString(CultureInfo.InvariantCulture)}, {model.Outputs.Count.ToString(CultureInfo.InvariantCulture)});");
        code.Line("try");
        code.Open();
        for (var i = 0; i < model.Inputs.Count; i++)
        {
            var tensor = model.Inputs[i];
            var slot = $"binding.Inputs[{i.ToString(CultureInfo.InvariantCulture)}]";
            code.Line($"{slot} = CreatePinnedTensor({MemberNames.BufferField(tensor.PropertyName)}, {InputShape(model, tensor, "batchSize")}, {OrtElementType(tensor)});");
            code.Line($"binding.IoBinding.BindInput({Literal(tensor.OnnxName)}, {slot});");
        }
        foreach (var tensor in model.Outputs)
            code.Line($"binding.IoBinding.BindOutputToDevice({Literal(tensor.OnnxName)}, {Ort}.OrtMemoryInfo.DefaultInstance);");
        code.Line("_session.RunWithBinding(_runOptions, binding.IoBinding);");
        code.Line("using (var results = binding.IoBinding.GetOutputValues())");
        code.Open();
        code.Line("binding.IoBinding.ClearBoundOutputs();");
        for (var i = 0; i < model.Outputs.Count; i++)
        {
            var tensor = model.Outputs[i];
            var index = i.ToString(CultureInfo.InvariantCulture);
            var samples = tensor.IsBatched ? "MaxBatchSize, batchSize" : "1, 1";
            code.Line($"BindOutput(binding, {index}, {Literal(tensor.OnnxName)}, results[{index}], ref {MemberNames.BufferField(tensor.PropertyName)}, {samples}, {OrtElementType(tensor)});");
        }
        code.Close();
        code.Close();
        code.Line("catch");
        code.Open();
        code.Line("binding.Dispose();");
        code.Line("throw;");
        code.Close();
        code.Line("_bindings[batchSize] = binding;");
        code.Line("_current = binding;");
        code.Close();
        code.Line();

        code.Line("// Copies a result ONNX Runtime allocated into the output's pinned buffer and binds the buffer. A buffer too small grows,");
        code.Line("// with room for maxSamples samples of this shape; the other bindings still point at the old one, so they are dropped.");
        code.Line($"private void BindOutput<T>(Binding binding, int output, string name, {Ort}.OrtValue result, ref T[] buffer, int maxSamples, int samples, {Ort}.Tensors.TensorElementType elementType)");
        code.Line("    where T : unmanaged");
        code.Open();
        code.Line("var info = result.GetTensorTypeAndShape();");
        code.Line("var length = checked((int)info.ElementCount);");
        code.Line("if (buffer.Length < length)");
        code.Open();
        code.Line("ReleaseBindings();");
        code.Line("buffer = global::System.GC.AllocateArray<T>(checked(length / samples * maxSamples), pinned: true);");
        code.Close();
        code.Line("result.GetTensorDataAsSpan<T>().CopyTo(buffer);");
        code.Line("binding.OutputShapes[output] = info.Shape;");
        code.Line("binding.OutputLengths[output] = length;");
        code.Line("binding.Outputs[output] = CreatePinnedTensor(buffer, info.Shape, elementType);");
        code.Line("binding.IoBinding.BindOutput(name, binding.Outputs[output]);");
        code.Close();
        code.Line();
    }

    private static void EmitResizeInputs(CodeWriter code, WrapperModel model)
    {
        var samples = model.MaxBatchSize is null ? "1" : "MaxBatchSize";
        code.Line($"// The input spans take the current sizes, with room for {(model.MaxBatchSize is null ? "one sample" : "MaxBatchSize samples")}; a buffer too small grows.");
        code.Line("private void ResizeInputs()");
        code.Open();
        code.Line("ReleaseBindings();");
        foreach (var tensor in model.Inputs)
        {
            var shape = MemberNames.CurrentShapeField(tensor.PropertyName);
            var length = MemberNames.LengthField(tensor.PropertyName);
            var buffer = MemberNames.BufferField(tensor.PropertyName);
            code.Line($"{shape} = {InputShape(model, tensor, samples)};");
            code.Line($"{length} = ElementCount({shape});");
            code.Line($"if ({buffer}.Length < {length}) {buffer} = global::System.GC.AllocateArray<{tensor.ElementType.CSharpName}>({length}, pinned: true);");
        }
        code.Close();
        code.Line();
    }

    private static void EmitBindingClass(CodeWriter code)
    {
        code.Line("// One OrtIoBinding and what it binds: the inputs over their pinned buffers, the outputs with their shapes.");
        code.Line("private sealed class Binding : global::System.IDisposable");
        code.Open();
        code.Line($"public Binding({Ort}.OrtIoBinding ioBinding, int inputs, int outputs)");
        code.Open();
        code.Line("IoBinding = ioBinding;");
        code.Line($"Inputs = new {Ort}.OrtValue?[inputs];");
        code.Line($"Outputs = new {Ort}.OrtValue?[outputs];");
        code.Line("OutputShapes = new long[outputs][];");
        code.Line("OutputLengths = new int[outputs];");
        code.Close();
        code.Line();
        code.Line($"public {Ort}.OrtIoBinding IoBinding {{ get; }}");
        code.Line();
        code.Line($"public {Ort}.OrtValue?[] Inputs {{ get; }}");
        code.Line();
        code.Line($"public {Ort}.OrtValue?[] Outputs {{ get; }}");
        code.Line();
        code.Line("public long[][] OutputShapes { get; }");
        code.Line();
        code.Line("public int[] OutputLengths { get; }");
        code.Line();
        code.Line("public void Dispose()");
        code.Open();
        code.Line("IoBinding.Dispose();");
        code.Line("foreach (var value in Inputs) value?.Dispose();");
        code.Line("foreach (var value in Outputs) value?.Dispose();");
        code.Close();
        code.Close();
    }
}
