using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Evaluation;

/// <summary>How latency is measured. Few runs by default: the build waits for them.</summary>
public sealed record LatencyOptions
{
    public static LatencyOptions Default { get; } = new();

    /// <summary>Untimed runs first (allocations, caches, lazy kernel set-up).</summary>
    public int WarmupRuns { get; init; } = 5;

    /// <summary>Timed runs per model; the median is reported.</summary>
    public int Runs { get; init; } = 25;

    public GraphOptimizationLevel Optimization { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>
    /// ONNX Runtime's intra-op threads. One by default: a single thread is far less disturbed by
    /// other work on the build machine, and comparisons between models stay fair.
    /// </summary>
    public int IntraOpThreads { get; init; } = 1;
}

/// <summary>The medians of two models timed interleaved on the same input.</summary>
public sealed record LatencyComparison(TimeSpan Baseline, TimeSpan Candidate)
{
    /// <summary>Candidate median / baseline median: below 1 the candidate is faster.</summary>
    public double Ratio => Candidate.Ticks / (double)Math.Max(1, Baseline.Ticks);
}

/// <summary>
/// Measures the median latency of one batch-1 run as the generated wrapper makes it: inputs and
/// outputs in pinned buffers bound once with <see cref="OrtIoBinding"/>, each run a
/// <see cref="InferenceSession.RunWithBinding(RunOptions, OrtIoBinding)"/>.
/// </summary>
public static class LatencyMeter
{
    /// <summary>The median latency of <paramref name="model"/> on one <paramref name="sample"/> (e.g. <see cref="Data.SampleSet.Sample"/>(0)).</summary>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load or run the model.</exception>
    public static TimeSpan Median(ModelProto model, string modelName, IReadOnlyDictionary<string, NdArray> sample, LatencyOptions? options = null)
    {
        options ??= LatencyOptions.Default;
        using var bound = new BoundModel(model, modelName, sample, options);
        for (var i = 0; i < options.WarmupRuns; i++) bound.Run();
        var times = new long[options.Runs];
        for (var i = 0; i < times.Length; i++) times[i] = bound.Time();
        return MedianOf(times);
    }

    /// <summary>
    /// Times <paramref name="baseline"/> and <paramref name="candidate"/> in turns (alternating which
    /// goes first) in this process, so drifting machine load affects both alike; returns both medians.
    /// </summary>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load or run a model.</exception>
    public static LatencyComparison Compare(ModelProto baseline, string baselineName, ModelProto candidate, string candidateName,
        IReadOnlyDictionary<string, NdArray> sample, LatencyOptions? options = null)
    {
        options ??= LatencyOptions.Default;
        using var first = new BoundModel(baseline, baselineName, sample, options);
        using var second = new BoundModel(candidate, candidateName, sample, options);
        for (var i = 0; i < options.WarmupRuns; i++)
        {
            first.Run();
            second.Run();
        }
        var baselineTimes = new long[options.Runs];
        var candidateTimes = new long[options.Runs];
        for (var i = 0; i < options.Runs; i++)
        {
            if (i % 2 == 0)
            {
                baselineTimes[i] = first.Time();
                candidateTimes[i] = second.Time();
            }
            else
            {
                candidateTimes[i] = second.Time();
                baselineTimes[i] = first.Time();
            }
        }
        return new LatencyComparison(MedianOf(baselineTimes), MedianOf(candidateTimes));
    }

    private static TimeSpan MedianOf(long[] timestamps)
    {
        if (timestamps.Length == 0) throw new ArgumentException("At least one timed run is needed.", nameof(timestamps));
        Array.Sort(timestamps);
        var middle = timestamps.Length / 2;
        var median = timestamps.Length % 2 == 1 ? timestamps[middle] : (timestamps[middle - 1] + timestamps[middle]) / 2.0;
        return TimeSpan.FromSeconds(median / Stopwatch.Frequency);
    }

    /// <summary>A session with its inputs and outputs bound to pinned buffers, ready to run without allocating.</summary>
    private sealed class BoundModel : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly OrtIoBinding _binding;
        private readonly RunOptions _runOptions = new();
        private readonly List<OrtValue> _values = [];
        private readonly List<byte[]> _buffers = []; // referenced here so the GC keeps them while ORT holds their addresses
        private readonly string _name;

        public BoundModel(ModelProto model, string name, IReadOnlyDictionary<string, NdArray> sample, LatencyOptions options)
        {
            _name = name;
            try
            {
                _session = ModelRunner.CreateSession(model, name, options.Optimization, options.IntraOpThreads);
                _binding = _session.CreateIoBinding();
                foreach (var (input, value) in sample) _binding.BindInput(input, Pinned(value));
                // One ordinary run gives the outputs' shapes; later runs write into pinned buffers of that size.
                var outputs = Shapes(sample);
                foreach (var output in _session.OutputNames)
                {
                    if (outputs[output] is { } array) _binding.BindOutput(output, Pinned(array));
                    else _binding.BindOutputToDevice(output, OrtMemoryInfo.DefaultInstance);
                }
            }
            catch (OnnxRuntimeException e)
            {
                Dispose();
                throw Failed(e);
            }
            catch (CompressionException)
            {
                Dispose();
                throw;
            }
        }

        public void Run()
        {
            try
            {
                _session.RunWithBinding(_runOptions, _binding);
            }
            catch (OnnxRuntimeException e)
            {
                throw Failed(e);
            }
        }

        public long Time()
        {
            var start = Stopwatch.GetTimestamp();
            Run();
            return Stopwatch.GetTimestamp() - start;
        }

        public void Dispose()
        {
            _binding?.Dispose();
            _session?.Dispose();
            _runOptions.Dispose();
            foreach (var value in _values) value.Dispose();
        }

        // Output buffers sized by a first run; null for outputs that are not numeric tensors (ORT allocates those).
        private Dictionary<string, NdArray?> Shapes(IReadOnlyDictionary<string, NdArray> sample)
        {
            var inputs = sample.Values.Select(OrtValueConverter.ToOrtValue).ToList();
            try
            {
                using var results = _session.Run(_runOptions, sample.Keys.ToArray(), inputs, _session.OutputNames.ToArray());
                var shapes = new Dictionary<string, NdArray?>(StringComparer.Ordinal);
                for (var i = 0; i < results.Count; i++)
                {
                    var value = results[i];
                    shapes[_session.OutputNames[i]] = value.IsTensor && value.GetTensorTypeAndShape().ElementDataType != TensorElementType.String
                        ? OrtValueConverter.ToNdArray(value)
                        : null;
                }
                return shapes;
            }
            finally
            {
                foreach (var input in inputs) input.Dispose();
            }
        }

        // A tensor over a pinned managed copy of the array's bytes (pinned arrays never move, so ORT may keep the pointer).
        private OrtValue Pinned(NdArray array)
        {
            if (array.Strings is not null) throw new NotSupportedException("String tensors cannot be bound to pinned buffers.");
            var buffer = GC.AllocateArray<byte>(Math.Max(1, array.Data.Length), pinned: true);
            array.Data.CopyTo(buffer, 0);
            _buffers.Add(buffer);
            var value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (TensorElementType)(int)array.ElementType,
                array.Shape.ToArray(), Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0), array.Data.Length);
            _values.Add(value);
            return value;
        }

        private CompressionException Failed(OnnxRuntimeException e) =>
            OnnxRuntimeFailure.CannotRun(_name, "to time it", e);
    }
}
