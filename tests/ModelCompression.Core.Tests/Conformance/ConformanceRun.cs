using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Conformance;

/// <summary>
/// Runs each ONNX test model in ONNX Runtime before and after the lossless pipeline and compares every
/// output; also compares the statically inferred output shapes with the ones ONNX Runtime produces.
/// </summary>
internal sealed class ConformanceRun
{
    /// <summary>
    /// The comparison tolerance for float outputs: |rewritten − original| ≤ 1e-5 + 1e-4·|original|.
    /// The passes only reorder float arithmetic: folding BatchNormalization rounds W·s once per weight, and a
    /// constant input lets ONNX Runtime pre-pack a weight and sum in another order. For float32 (ε ≈ 1.2e-7)
    /// a length-K dot product then moves by about √K·ε of its magnitude, below 1e-4 relative for the K of
    /// these models. A wrong rewrite (a lost bias, a wrong channel scale, a wrong transpose) moves outputs
    /// by ≥ 1e-2 relative, two orders above the bound. Integers, bools and strings must match exactly.
    /// </summary>
    public static readonly Tolerance Tolerance = new(Absolute: 1e-5, Relative: 1e-4);

    private readonly ConcurrentBag<CaseOutcome> _outcomes = [];
    private readonly LosslessPipeline _pipeline = new();

    public IReadOnlyCollection<CaseOutcome> Outcomes => _outcomes;

    public TimeSpan Elapsed { get; private set; }

    public void RunAll(IReadOnlyList<OnnxTestCase> cases)
    {
        var clock = Stopwatch.StartNew();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, c => _outcomes.Add(Run(c)));
        Elapsed = clock.Elapsed;
    }

    private CaseOutcome Run(OnnxTestCase testCase)
    {
        var outcome = new CaseOutcome(testCase.Name);
        ModelProto original;
        try
        {
            original = OnnxModelFile.Load(testCase.ModelPath);
        }
        catch (CompressionException e)
        {
            return outcome.Skip($"the model is rejected by the ONNX reader ({e.Code})");
        }
        if (OnnxTestCase.NonTensorInputs(original).FirstOrDefault() is { } nonTensor)
            return outcome.Skip($"{KindOf(nonTensor.Type)} input (the harness feeds tensors only)");

        IReadOnlyList<Dictionary<string, NdArray>> dataSets;
        try
        {
            dataSets = testCase.ReadDataSets(original);
        }
        catch (NotSupportedException)
        {
            return outcome.Skip("an input element type NdArray cannot hold (int4/uint4...)");
        }
        if (dataSets.Count == 0) return outcome.Skip("no test data set");
        if (MistypedInput(original, dataSets) is { } mistyped) return outcome.Skip(mistyped);

        List<IReadOnlyDictionary<string, NdArray>> expected;
        try
        {
            expected = RunAll(original, dataSets, out var loadFailure);
            if (loadFailure is not null) return outcome.Skip($"ONNX Runtime cannot load the original ({loadFailure})");
        }
        catch (OnnxRuntimeException e)
        {
            return outcome.Skip($"ONNX Runtime cannot run the original ({ErrorCode(e)})");
        }
        catch (NotSupportedException)
        {
            return outcome.Skip("a non-tensor or sub-byte output (sequence, optional, int4...)");
        }

        CheckShapeInference(original, expected[0], outcome);

        var rewritten = original.Clone();
        var report = _pipeline.Run(rewritten);
        new ValueNameCompaction().Apply(rewritten);
        outcome.Report = report;
        if (rewritten.ToByteString().Equals(original.ToByteString())) return outcome.Check();
        outcome.Changed = true;
        try
        {
            var actual = RunAll(rewritten, dataSets, out var loadFailure);
            if (loadFailure is not null) return outcome.Mismatch($"the rewritten model does not load: {loadFailure}");
            for (var i = 0; i < actual.Count; i++)
                foreach (var difference in OutputComparison.Differences(expected[i], actual[i], Tolerance))
                    outcome.Mismatch($"data set {i}: {difference}");
        }
        catch (Exception e) when (e is OnnxRuntimeException or NotSupportedException)
        {
            return outcome.Mismatch($"the rewritten model fails to run: {e.Message}");
        }
        return outcome.Check();
    }

    // Some files store an input in another element type than the model declares (uint16 data for bfloat16).
    private static string? MistypedInput(ModelProto model, IReadOnlyList<Dictionary<string, NdArray>> dataSets)
    {
        foreach (var input in model.Graph.Input)
        {
            var declared = (DataType)(input.Type?.TensorType?.ElemType ?? 0);
            foreach (var set in dataSets)
                if (declared != DataType.Undefined && set.TryGetValue(input.Name, out var value) && value.ElementType != declared)
                    return $"the test data holds {ElementTypes.Name(value.ElementType)} for a {ElementTypes.Name(declared)} input";
        }
        return null;
    }

    private static List<IReadOnlyDictionary<string, NdArray>> RunAll(ModelProto model, IReadOnlyList<Dictionary<string, NdArray>> dataSets, out string? loadFailure)
    {
        ModelRunner runner;
        try
        {
            runner = new ModelRunner(model, "model", GraphOptimizationLevel.ORT_DISABLE_ALL, intraOpThreads: 1);
        }
        catch (CompressionException e) when (e.InnerException is OnnxRuntimeException ort)
        {
            loadFailure = ErrorCode(ort);
            return [];
        }
        using (runner)
        {
            loadFailure = null;
            return dataSets.Select(inputs => runner.Run(inputs)).ToList();
        }
    }

    // Statically inferred output types (value_info and declared output types removed, so the rules alone
    // speak) must agree with what ONNX Runtime produced wherever they claim to know something.
    private static void CheckShapeInference(ModelProto original, IReadOnlyDictionary<string, NdArray> actual, CaseOutcome outcome)
    {
        var stripped = original.Clone();
        foreach (var graph in OnnxWalk.Graphs(stripped))
        {
            graph.ValueInfo.Clear();
            foreach (var output in graph.Output) output.Type = null;
        }
        var shapes = ShapeInference.Run(stripped);
        foreach (var output in original.Graph.Output)
        {
            if (!actual.TryGetValue(output.Name, out var value)) continue;
            var inferred = shapes.TypeOf(output.Name);
            outcome.OutputsTyped++;
            if (inferred.KnownShape is not null) outcome.OutputsFullyInferred++;
            var shape = value.Shape.ToArray();
            var wrong = (inferred.ElementType != DataType.Undefined && inferred.ElementType != value.ElementType)
                || (inferred.Dims is not null && (inferred.Dims.Count != shape.Length
                    || inferred.Dims.Where((d, i) => d.IsKnown && d.Value != shape[i]).Any()));
            if (wrong)
                outcome.ShapeMismatches.Add($"{output.Name}: inferred {inferred}, ONNX Runtime gave {ElementTypes.Name(value.ElementType)}[{string.Join(",", shape)}]");
        }
    }

    private static string KindOf(TypeProto type) => type.ValueCase switch
    {
        TypeProto.ValueOneofCase.SequenceType => "a sequence",
        TypeProto.ValueOneofCase.OptionalType => "an optional",
        TypeProto.ValueOneofCase.MapType => "a map",
        TypeProto.ValueOneofCase.SparseTensorType => "a sparse tensor",
        _ => $"a {type.ValueCase}",
    };

    private static string ErrorCode(OnnxRuntimeException e)
    {
        var message = e.Message;
        return message.StartsWith("[ErrorCode:", StringComparison.Ordinal) && message.IndexOf(']') is var end and > 0
            ? message[11..end]
            : e.GetType().Name;
    }
}

/// <summary>What happened to one test model.</summary>
internal sealed class CaseOutcome(string name)
{
    public string Name { get; } = name;

    public string? SkippedBecause { get; private set; }

    public bool Checked { get; private set; }

    public bool Changed { get; set; }

    public PipelineReport? Report { get; set; }

    public List<string> Mismatches { get; } = [];

    public List<string> ShapeMismatches { get; } = [];

    public int OutputsTyped { get; set; }

    public int OutputsFullyInferred { get; set; }

    public CaseOutcome Skip(string reason)
    {
        SkippedBecause = reason;
        return this;
    }

    public CaseOutcome Check()
    {
        Checked = true;
        return this;
    }

    public CaseOutcome Mismatch(string what)
    {
        Mismatches.Add(what);
        return this;
    }
}
