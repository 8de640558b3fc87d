using ModelCompression.Core.Onnx;
using ModelCompression.Distillation.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion;

/// <summary>
/// An ONNX graph run by TorchSharp: the trained weights are parameters, every other constant a fixed tensor, and
/// <see cref="Forward"/> interprets the nodes in topological order. Made by <see cref="StudentConverter"/>.
/// </summary>
public sealed class OnnxStudent : IStudent
{
    private readonly IReadOnlyList<Step> _steps;
    private readonly IReadOnlyList<string[]> _releasedAfter;
    private readonly int _opset;
    private readonly Dictionary<string, Tensor> _fixed;
    private readonly Dictionary<string, Parameter> _parameters;
    private readonly Dictionary<string, Func<Tensor, Tensor>> _transforms = new(StringComparer.Ordinal);
    private bool _disposed;

    internal OnnxStudent(IReadOnlyList<Step> steps, int opset, Dictionary<string, Tensor> fixedValues,
        Dictionary<string, Parameter> parameters, IReadOnlyList<string> inputNames, IReadOnlyList<string> outputNames)
    {
        _steps = steps;
        _opset = opset;
        _fixed = fixedValues;
        _parameters = parameters;
        InputNames = inputNames;
        OutputNames = outputNames;
        _releasedAfter = LastUses(steps, outputNames);
    }

    public IReadOnlyList<string> InputNames { get; }

    public IReadOnlyList<string> OutputNames { get; }

    public IReadOnlyDictionary<string, Parameter> Parameters => _parameters;

    /// <summary>The number of nodes Forward runs (Constant nodes are loaded once, not run).</summary>
    public int NodeCount => _steps.Count;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">An input the graph needs is missing.</exception>
    public IReadOnlyList<Tensor> Forward(IReadOnlyDictionary<string, Tensor> inputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Everything computed here is disposed with the scope except the outputs; autograd keeps what backward needs.
        using var scope = torch.NewDisposeScope();
        var values = new Dictionary<string, Tensor>(_fixed, StringComparer.Ordinal);
        var external = new HashSet<Tensor>(_fixed.Values, ReferenceEqualityComparer.Instance);
        foreach (var (name, parameter) in _parameters)
        {
            values[name] = _transforms.TryGetValue(name, out var transform) ? transform(parameter) : parameter;
            external.Add(parameter);
        }
        foreach (var (name, tensor) in inputs)
        {
            values[name] = tensor;
            external.Add(tensor);
        }
        foreach (var name in InputNames)
            if (!inputs.ContainsKey(name)) throw new ArgumentException($"The input '{name}' is missing.", nameof(inputs));

        for (var s = 0; s < _steps.Count; s++)
        {
            var node = _steps[s].Node;
            var operands = node.Input.Select(name => name.Length == 0 ? null : values[name]).ToList();
            var results = _steps[s].Operator.Run(new OperatorCall(node, _opset, operands));
            for (var i = 0; i < results.Length && i < node.Output.Count; i++)
            {
                if (node.Output[i].Length == 0) continue;
                // An operator may hand back an operand itself (e.g. a Slice that keeps everything): own it separately.
                var result = operands.Any(o => ReferenceEquals(o, results[i])) ? results[i].alias() : results[i];
                values[node.Output[i]] = result;
            }
            // Free intermediates as soon as nothing reads them (autograd keeps its own references to what backward needs).
            foreach (var name in _releasedAfter[s])
                if (values.Remove(name, out var released) && !external.Contains(released)) released.Dispose();
        }

        return OutputNames.Select(name =>
        {
            var value = values.TryGetValue(name, out var v) ? v : throw new InvalidDataException($"No node computes the graph output '{name}'.");
            // An output that is a constant, a parameter or an input gets its own handle: the caller disposes outputs.
            var owned = external.Contains(value) ? value.alias() : value;
            return owned.MoveToOuterDisposeScope();
        }).ToList();
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException"><paramref name="initializer"/> is not a trained weight.</exception>
    public void SetWeightTransform(string initializer, Func<Tensor, Tensor>? transform)
    {
        if (!_parameters.ContainsKey(initializer))
            throw new ArgumentException($"'{initializer}' is not a trained weight of this student.", nameof(initializer));
        if (transform is null) _transforms.Remove(initializer);
        else _transforms[initializer] = transform;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var tensor in _fixed.Values) tensor.Dispose();
        foreach (var parameter in _parameters.Values) parameter.Dispose();
    }

    /// <summary>For each step, the values no later step and no graph output reads.</summary>
    private static IReadOnlyList<string[]> LastUses(IReadOnlyList<Step> steps, IReadOnlyList<string> outputNames)
    {
        var lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var s = 0; s < steps.Count; s++)
        {
            foreach (var name in steps[s].Node.Input.Where(n => n.Length > 0)) lastUse[name] = s;
            // An output nothing reads is released right after the step that makes it.
            foreach (var name in steps[s].Node.Output.Where(n => n.Length > 0)) lastUse.TryAdd(name, s);
        }
        foreach (var name in outputNames) lastUse.Remove(name);
        var released = Enumerable.Range(0, steps.Count).Select(_ => new List<string>()).ToList();
        foreach (var (name, step) in lastUse) released[step].Add(name);
        return released.Select(r => r.ToArray()).ToList();
    }

    /// <summary>One node to run and the operator that runs it.</summary>
    internal sealed record Step(NodeProto Node, IOnnxOperator Operator);
}
