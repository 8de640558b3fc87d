using System.Reflection;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;
using ModelCompression.Testing;

namespace ModelCompression.WrapperBench;

/// <summary>
/// One corpus model (the original model.onnx of ../shared/models) run four ways on the first validation sample(s):
/// the generated wrapper and the three hand-written paths of <see cref="HandWrittenPaths"/>, at batch 1 and, where
/// every input has a free batch axis, at <see cref="LargeBatch"/>. Each method is one inference with the inputs
/// already in place (written once in setup); the two <c>Run</c> paths also dispose their results, as their callers must.
/// </summary>
[MemoryDiagnoser]
public abstract class CorpusModelBenchmarks
{
    /// <summary>The batch issue 10 compares besides batch 1.</summary>
    public const int LargeBatch = 8;

    /// <summary>
    /// One intra-op thread for every path, so that the comparison measures what each path adds around the same
    /// kernels, not how the machine schedules ONNX Runtime's thread pool.
    /// </summary>
    private const int IntraOpThreads = 1;

    /// <summary>The constant the generator emits for a wrapper with MaxBatchSize item metadata.</summary>
    private const string MaxBatchSizeConstant = "MaxBatchSize";

    private readonly Type _wrapperType;
    private readonly HandWrittenPaths?[] _pathsByBatch = new HandWrittenPaths?[LargeBatch + 1];
    private readonly IReadOnlyDictionary<string, NdArray>?[] _feedsByBatch = new IReadOnlyDictionary<string, NdArray>?[LargeBatch + 1];
    private readonly List<SessionOptions> _extraOptions = [];
    private SessionOptions? _options;
    private InferenceSession? _session;
    private RunOptions? _runOptions;
    private IGeneratedWrapper? _wrapper;

    /// <param name="folder">The model's folder in ../shared/models.</param>
    /// <param name="wrapperType">The class generated for the model (from its sidecar in Sidecars/).</param>
    protected CorpusModelBenchmarks(string folder, Type wrapperType)
    {
        Folder = folder;
        _wrapperType = wrapperType;
    }

    /// <summary>The model's folder in ../shared/models, e.g. "digits-mlp".</summary>
    public string Folder { get; }

    private string FolderPath => Path.Combine(
        SharedModels.Root ?? throw new InvalidOperationException($"The corpus (../shared/models beside the repository) was not found; set {SharedModels.RootVariable}."),
        Folder);

    private string ModelPath => Path.Combine(FolderPath, "model.onnx");

    public IEnumerable<int> BatchSizes() =>
        SignatureResolver.GraphInputs(OnnxModelFile.Load(ModelPath)).All(HasFreeBatchAxis) ? [1, LargeBatch] : [1];

    /// <summary>The batch sizes up to the wrapper's MaxBatchSize: batch 1 alone when it was generated without one.</summary>
    public IEnumerable<int> WrapperBatchSizes()
    {
        var maxBatchSize = _wrapperType.GetField(MaxBatchSizeConstant, BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as int? ?? 1;
        return BatchSizes().Where(batchSize => batchSize <= maxBatchSize);
    }

    [GlobalSetup]
    public void Setup()
    {
        var samples = SampleSet.Load(Path.Combine(FolderPath, "validation.npz"), DataSetting.ValidationData, OnnxModelFile.Load(ModelPath));
        _options = new SessionOptions
        {
            IntraOpNumThreads = IntraOpThreads,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(ModelPath, _options);
        _runOptions = new RunOptions();
        _wrapper = (IGeneratedWrapper)Activator.CreateInstance(_wrapperType, ModelPath, _options)!;
        // Ascending: the wrapper's buffers keep the largest feed, whose first samples are the smaller feeds.
        foreach (var batchSize in BatchSizes().Order())
        {
            var feed = batchSize == 1 ? samples.Sample(0) : samples.Batch(0, batchSize);
            _feedsByBatch[batchSize] = feed;
            var paths = new HandWrittenPaths(_session, _runOptions, feed);
            _pathsByBatch[batchSize] = paths;
            var outputs = new Dictionary<string, byte[][]>(paths.OutputsOfEveryPath());
            if (WrapperBatchSizes().Contains(batchSize)) outputs["generated wrapper"] = WrapperOutputs(feed, batchSize, paths.OutputNames);
            CheckEveryPathAgrees(batchSize, paths.OutputNames, outputs);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var paths in _pathsByBatch) paths?.Dispose();
        _wrapper?.Dispose();
        _runOptions?.Dispose();
        _session?.Dispose();
        _options?.Dispose();
        foreach (var options in _extraOptions) options.Dispose();
        _extraOptions.Clear();
    }

    [Benchmark]
    [ArgumentsSource(nameof(WrapperBatchSizes))]
    public void Wrapper(int batchSize) => _wrapper!.Run(batchSize);

    [Benchmark(Baseline = true)]
    [ArgumentsSource(nameof(BatchSizes))]
    public void IoBinding(int batchSize) => _pathsByBatch[batchSize]!.RunIoBinding();

    [Benchmark]
    [ArgumentsSource(nameof(BatchSizes))]
    public float NamedOnnxValues(int batchSize)
    {
        using var results = _pathsByBatch[batchSize]!.RunNamedOnnxValues();
        return results[0].AsTensor<float>().GetValue(0);
    }

    [Benchmark]
    [ArgumentsSource(nameof(BatchSizes))]
    public float[][] NamedOnnxValuesPerCall(int batchSize) => _pathsByBatch[batchSize]!.RunNamedOnnxValuesPerCall();

    [Benchmark]
    [ArgumentsSource(nameof(BatchSizes))]
    public float OrtValueArrays(int batchSize)
    {
        using var outputs = _pathsByBatch[batchSize]!.RunOrtValueArrays();
        return outputs[0].GetTensorDataAsSpan<float>()[0];
    }

    /// <summary>
    /// The model's generated class over another model of the same signature (the compressed model a build makes), with
    /// the same session options and its inputs written with the feed of <paramref name="batchSize"/>. Call after setup.
    /// </summary>
    public IGeneratedWrapper WrapperOver(string modelPath, int batchSize) => WrapperOver(modelPath, batchSize, _options!);

    /// <summary>
    /// The model's generated class over the original model with <paramref name="intraOpThreads"/> intra-op threads (the
    /// caller's choice, through the constructor taking SessionOptions), its inputs written as in
    /// <see cref="WrapperOver(string, int)"/>. Call after setup.
    /// </summary>
    public IGeneratedWrapper WrapperWithIntraOpThreads(int intraOpThreads, int batchSize)
    {
        var options = new SessionOptions { IntraOpNumThreads = intraOpThreads, ExecutionMode = _options!.ExecutionMode, GraphOptimizationLevel = _options.GraphOptimizationLevel };
        _extraOptions.Add(options);
        return WrapperOver(ModelPath, batchSize, options);
    }

    private IGeneratedWrapper WrapperOver(string modelPath, int batchSize, SessionOptions options)
    {
        var wrapper = (IGeneratedWrapper)Activator.CreateInstance(_wrapperType, modelPath, options)!;
        foreach (var (name, value) in _feedsByBatch[batchSize]!) value.Data.CopyTo(wrapper.InputBytes(name));
        return wrapper;
    }

    private static bool HasFreeBatchAxis(ValueInfoProto input) =>
        input.Type.TensorType.Shape?.Dim is { Count: > 0 } dims && !dims[0].HasDimValue;

    private byte[][] WrapperOutputs(IReadOnlyDictionary<string, NdArray> feed, int batchSize, IReadOnlyList<string> outputNames)
    {
        foreach (var (name, value) in feed) value.Data.CopyTo(_wrapper!.InputBytes(name));
        _wrapper!.Run(batchSize);
        return [.. outputNames.Select(name => _wrapper.OutputBytes(name).ToArray())];
    }

    // Same session options, same inputs: every path must give the same bytes as OrtIoBinding.
    private void CheckEveryPathAgrees(int batchSize, IReadOnlyList<string> outputNames, IReadOnlyDictionary<string, byte[][]> outputsByPath)
    {
        var expected = outputsByPath[HandWrittenPaths.IoBindingPath];
        foreach (var (path, outputs) in outputsByPath)
        {
            for (var i = 0; i < outputNames.Count; i++)
            {
                if (!outputs[i].AsSpan().SequenceEqual(expected[i]))
                    throw new InvalidOperationException(
                        $"{Folder}, batch {batchSize}: output '{outputNames[i]}' of the {path} path ({outputs[i].Length} bytes) differs from {HandWrittenPaths.IoBindingPath}'s ({expected[i].Length} bytes).");
            }
        }
    }
}
