using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// Conv (1-D, 2-D or more; NC·spatial): a row is the im2col patch of one output position, per group the
/// C/group input channels × kernel elements in the order (c, k₁, k₂...) of the weight's inner axes
/// [M, C/group, k₁, k₂...]. Pads (explicit or auto_pad), strides and dilations are those of the node; a patch
/// element that falls in the padding is 0, as the convolution sees it. Rows enumerate (batch, output position)
/// in row-major order, the order of the Conv output's spatial axes.
/// </summary>
internal sealed class ConvInput : LayerInput
{
    private readonly long[] _kernel;
    private readonly long[] _strides;
    private readonly long[] _dilations;
    private readonly long[]? _pads;   // [begin..., end...]; null with SAME_UPPER/SAME_LOWER, which depend on the input size
    private readonly string _autoPad;

    private ConvInput(string node, string tensor, int dimension, int groups, long[] kernel, long[] strides, long[] dilations, long[]? pads, string autoPad)
        : base(node, tensor, dimension, groups)
    {
        _kernel = kernel;
        _strides = strides;
        _dilations = dilations;
        _pads = pads;
        _autoPad = autoPad;
    }

    public int SpatialRank => _kernel.Length;

    public static ConvInput? Create(NodeProto node, long[] weight)
    {
        var kernel = weight[2..];
        var spatial = kernel.Length;
        var groups = node.GetInt("group", 1);
        var strides = node.GetInts("strides") ?? Ones(spatial);
        var dilations = node.GetInts("dilations") ?? Ones(spatial);
        var autoPad = node.GetString("auto_pad", "NOTSET");
        var pads = autoPad switch
        {
            "NOTSET" => node.GetInts("pads") ?? new long[2 * spatial],
            "VALID" => new long[2 * spatial],
            "SAME_UPPER" or "SAME_LOWER" => null,
            _ => Array.Empty<long>(), // an unknown auto_pad: refused below
        };
        if (pads is { } p && p.Length != 2 * spatial) return null;
        if (strides.Length != spatial || dilations.Length != spatial || groups < 1 || groups > int.MaxValue) return null;
        if (kernel.Any(k => k < 1) || strides.Any(s => s < 1) || dilations.Any(d => d < 1)) return null;
        // C/group × kernel elements, saturated just above int.MaxValue (a row that long is refused anyway).
        const long tooLong = int.MaxValue + 1L;
        var dimension = Math.Clamp(weight[1], 0, tooLong);
        foreach (var k in kernel) dimension = k > int.MaxValue ? tooLong : Math.Min(dimension * k, tooLong);
        if (dimension is < 1 or >= tooLong) return null;
        return new ConvInput(node.Name, node.Input[0], (int)dimension, (int)groups, kernel, strides, dilations, pads, autoPad);
    }

    public override RowSource? Rows(NdArray value)
    {
        if (value.ElementType != DataType.Float || value.Rank != 2 + SpatialRank) return null;
        var channels = value.Shape[1];
        var kernelElements = _kernel.Aggregate(1L, (a, k) => a * k);
        if (channels != (long)Groups * (Dimension / kernelElements)) return null;
        var input = value.Shape[2..].ToArray();
        var output = new long[SpatialRank];
        var padBegin = new long[SpatialRank];
        for (var s = 0; s < SpatialRank; s++)
        {
            var extent = (_kernel[s] - 1) * _dilations[s] + 1;
            if (_pads is { } pads)
            {
                padBegin[s] = pads[s];
                output[s] = (input[s] + pads[s] + pads[s + SpatialRank] - extent) / _strides[s] + 1;
            }
            else
            {
                // SAME_*: the output keeps ceil(input / stride) positions; the odd pad goes at the end (UPPER) or the beginning (LOWER).
                output[s] = (input[s] + _strides[s] - 1) / _strides[s];
                var total = Math.Max(0, (output[s] - 1) * _strides[s] + extent - input[s]);
                padBegin[s] = _autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
            }
            if (output[s] < 1 || input[s] < 1) return null;
        }
        return new PatchRows(this, value, (int)channels, (int)kernelElements, input, output, padBegin);
    }

    private static long[] Ones(int count) => Enumerable.Repeat(1L, count).ToArray();

    private sealed class PatchRows : RowSource
    {
        private readonly ConvInput _conv;
        private readonly NdArray _value;
        private readonly int _channels;
        private readonly int _kernelElements;
        private readonly long[] _input;
        private readonly long[] _output;
        private readonly long[] _padBegin;
        private readonly long _inputPositions;
        private readonly long _outputPositions;
        private readonly long[] _offsets;      // per kernel element: its input position (flat), or -1 in the padding
        private readonly long[] _coordinates;  // scratch: one output position's coordinates

        public PatchRows(ConvInput conv, NdArray value, int channels, int kernelElements, long[] input, long[] output, long[] padBegin)
        {
            _conv = conv;
            _value = value;
            _channels = channels;
            _kernelElements = kernelElements;
            _input = input;
            _output = output;
            _padBegin = padBegin;
            _inputPositions = input.Aggregate(1L, (a, n) => a * n);
            _outputPositions = output.Aggregate(1L, (a, n) => a * n);
            _offsets = new long[kernelElements];
            _coordinates = new long[input.Length];
            Count = value.Shape[0] * _outputPositions;
        }

        public override long Count { get; }

        public override void Write(long index, Span<float> destination, int groupStride, int elementStride)
        {
            var batch = index / _outputPositions;
            var position = index % _outputPositions;
            for (var s = _output.Length - 1; s >= 0; s--)
            {
                _coordinates[s] = position % _output[s];
                position /= _output[s];
            }
            FindOffsets();
            var values = _value.AsSpan<float>();
            var channelsPerGroup = _channels / _conv.Groups;
            for (var c = 0; c < _channels; c++)
            {
                // Channel c is the (c mod C/group)-th channel of group c / (C/group); its elements are (channel, kernel element).
                var at = (c / channelsPerGroup) * groupStride + (c % channelsPerGroup) * _kernelElements * elementStride;
                var plane = (batch * _channels + c) * _inputPositions;
                for (var k = 0; k < _kernelElements; k++, at += elementStride)
                    destination[at] = _offsets[k] < 0 ? 0f : values[checked((int)(plane + _offsets[k]))];
            }
        }

        /// <summary>The input position each kernel element reads at the current output position (row-major over the kernel's axes).</summary>
        private void FindOffsets()
        {
            var kernel = _conv._kernel;
            for (var k = 0; k < _kernelElements; k++)
            {
                long offset = 0, rest = k, stride = 1;
                for (var s = kernel.Length - 1; s >= 0 && offset >= 0; s--)
                {
                    var tap = rest % kernel[s];
                    rest /= kernel[s];
                    var at = _coordinates[s] * _conv._strides[s] - _padBegin[s] + tap * _conv._dilations[s];
                    offset = at < 0 || at >= _input[s] ? -1 : offset + at * stride;
                    stride *= _input[s];
                }
                _offsets[k] = offset;
            }
        }
    }
}
