using System.Diagnostics.CodeAnalysis;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Graph;

/// <summary>
/// One graph of a <see cref="ModelView"/>: who produces and who reads each value, its initializers and
/// constants, and the edits passes make (remove, replace, insert nodes; rename values; add initializers).
/// A value's readers include nodes of nested subgraphs that use it from the outer scope, and graph outputs.
/// Edit nodes through these methods (or call <see cref="Invalidate"/> after editing a node's inputs or
/// outputs directly) so that the indexes stay true.
/// </summary>
public sealed class GraphView
{
    private Index? _index;
    private int _indexVersion = -1;

    internal GraphView(ModelView model, GraphProto graph, GraphView? parent, NodeProto? owner)
    {
        Model = model;
        Proto = graph;
        Parent = parent;
        Owner = owner;
    }

    public ModelView Model { get; }

    public GraphProto Proto { get; }

    /// <summary>The graph whose node holds this one; null for the main graph.</summary>
    public GraphView? Parent { get; }

    /// <summary>The If/Loop/Scan node holding this graph; null for the main graph.</summary>
    public NodeProto? Owner { get; }

    public bool IsMain => Parent is null;

    public IReadOnlyList<NodeProto> Nodes => Proto.Node;

    // ---------------------------------------------------------------- queries

    /// <summary>The node of this graph that outputs <paramref name="value"/>; null for inputs, initializers and outer-scope values.</summary>
    public NodeProto? Producer(string value) => Current.Producers.GetValueOrDefault(value);

    /// <summary>Every read of <paramref name="value"/>: node inputs here and in nested subgraphs, and graph outputs.</summary>
    public IReadOnlyList<ValueUse> Consumers(string value) =>
        Current.Consumers.TryGetValue(value, out var uses) ? uses : [];

    public bool IsUsed(string value) => Consumers(value).Count > 0;

    public bool IsGraphInput(string value) => Current.Inputs.Contains(value);

    public bool IsGraphOutput(string value) => Current.Outputs.Contains(value);

    /// <summary>An initializer of this graph (not of enclosing graphs).</summary>
    public TensorProto? Initializer(string name) => Current.Initializers.GetValueOrDefault(name);

    /// <summary>Whether this graph itself defines the value: as an input, an initializer (dense or sparse) or a node output.</summary>
    public bool DefinesLocally(string value) =>
        Current.Inputs.Contains(value) || Current.Initializers.ContainsKey(value) || Current.Producers.ContainsKey(value)
        || Current.SparseInitializers.Contains(value);

    /// <summary>An initializer of this graph whose value is fixed (not an input default a caller may override).</summary>
    public bool IsConstantInitializer(string name) =>
        Initializer(name) is not null && (!IsGraphInput(name) || (IsMain && Model.InitializersMustBeInputs));

    /// <summary>
    /// The value of <paramref name="value"/> when it is a constant here: a constant initializer or a
    /// <c>Constant</c> node output, of this graph or an enclosing one. Null otherwise.
    /// </summary>
    public TensorProto? ConstantTensor(string value)
    {
        if (value.Length == 0) return null;
        for (var graph = this; graph is not null; graph = graph.Parent)
        {
            if (graph.Initializer(value) is { } initializer) return graph.IsConstantInitializer(value) ? initializer : null;
            if (graph.Producer(value) is { } producer) return ConstantNodes.ValueOf(producer);
            if (graph.IsGraphInput(value)) return null;
        }
        return null;
    }

    public bool IsConstant(string value) => ConstantTensor(value) is not null;

    /// <summary>The constant's value; false when it is not a constant or its element type cannot be read.</summary>
    public bool TryGetConstant(string value, [NotNullWhen(true)] out NdArray? array)
    {
        array = null;
        if (ConstantTensor(value) is not { } tensor) return false;
        try
        {
            array = TensorProtoConverter.ToNdArray(tensor);
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>Views of the graphs <paramref name="node"/> holds (If branches, Loop/Scan bodies).</summary>
    public IReadOnlyList<GraphView> Subgraphs(NodeProto node) =>
        OnnxWalk.SubgraphsOf(node).Select(g => Model.ViewOf(g, this, node)).ToList();

    /// <summary>The values the node's subgraphs read from outside themselves (its implicit inputs).</summary>
    public IReadOnlyCollection<string> OuterReferences(NodeProto node) =>
        Current.OuterReferences.TryGetValue(node, out var names) ? names : [];

    /// <summary>The position of <paramref name="node"/> (compared by reference) in this graph, or -1.</summary>
    public int PositionOf(NodeProto node)
    {
        for (var i = 0; i < Proto.Node.Count; i++)
            if (ReferenceEquals(Proto.Node[i], node)) return i;
        return -1;
    }

    /// <summary>
    /// The nodes in an order where each comes after the producers of everything it reads (subgraph reads
    /// included), keeping the stored order wherever it is already valid.
    /// </summary>
    /// <exception cref="InvalidOperationException">The graph has a cycle.</exception>
    public IReadOnlyList<NodeProto> TopologicalOrder()
    {
        var (order, unordered) = Sort();
        if (unordered.Count > 0)
            throw new InvalidOperationException($"Graph '{Proto.Name}' has a cycle: {unordered.Count} nodes depend on each other.");
        return order;
    }

    /// <summary>The nodes no order can place: those on a cycle and those that read from one. Empty when the graph has no cycle.</summary>
    public IReadOnlyList<NodeProto> NodesOnCycles() => Sort().Unordered;

    // Kahn's algorithm, taking the lowest stored position among the ready nodes.
    private (List<NodeProto> Order, List<NodeProto> Unordered) Sort()
    {
        var nodes = Proto.Node;
        var positionOfProducer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < nodes.Count; i++)
            foreach (var output in nodes[i].Output)
                if (output.Length > 0) positionOfProducer.TryAdd(output, i);

        var pending = new int[nodes.Count];
        var dependents = new List<int>[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            dependents[i] = [];
        }
        for (var i = 0; i < nodes.Count; i++)
        {
            var producers = new HashSet<int>();
            foreach (var name in nodes[i].Input.Concat(OuterReferences(nodes[i])))
                if (positionOfProducer.TryGetValue(name, out var p) && p != i) producers.Add(p);
            pending[i] = producers.Count;
            foreach (var p in producers) dependents[p].Add(i);
        }

        var ready = new PriorityQueue<int, int>();
        for (var i = 0; i < nodes.Count; i++)
            if (pending[i] == 0) ready.Enqueue(i, i);
        var order = new List<NodeProto>(nodes.Count);
        while (ready.TryDequeue(out var i, out _))
        {
            order.Add(nodes[i]);
            foreach (var d in dependents[i])
                if (--pending[d] == 0) ready.Enqueue(d, d);
        }
        var unordered = order.Count == nodes.Count ? [] : nodes.Where((_, i) => pending[i] > 0).ToList();
        return (order, unordered);
    }

    // ---------------------------------------------------------------- edits

    public void RemoveNode(NodeProto node)
    {
        var position = PositionOf(node);
        if (position < 0) throw new InvalidOperationException($"Node '{node.Name}' ({node.OpType}) is not in graph '{Proto.Name}'.");
        Proto.Node.RemoveAt(position);
        Changed();
    }

    public void InsertNode(int position, NodeProto node)
    {
        Proto.Node.Insert(position, node);
        Changed();
    }

    /// <summary>Inserts <paramref name="node"/> just before <paramref name="anchor"/>.</summary>
    public void InsertBefore(NodeProto anchor, NodeProto node)
    {
        var position = PositionOf(anchor);
        if (position < 0) throw new InvalidOperationException($"Node '{anchor.Name}' ({anchor.OpType}) is not in graph '{Proto.Name}'.");
        InsertNode(position, node);
    }

    /// <summary>Puts <paramref name="replacement"/> where <paramref name="node"/> was.</summary>
    public void ReplaceNode(NodeProto node, NodeProto replacement)
    {
        var position = PositionOf(node);
        if (position < 0) throw new InvalidOperationException($"Node '{node.Name}' ({node.OpType}) is not in graph '{Proto.Name}'.");
        Proto.Node[position] = replacement;
        Changed();
    }

    /// <summary>Makes input <paramref name="index"/> of <paramref name="node"/> read <paramref name="value"/> (appending when needed).</summary>
    public void SetInput(NodeProto node, int index, string value)
    {
        while (node.Input.Count <= index) node.Input.Add("");
        node.Input[index] = value;
        Changed();
    }

    /// <summary>
    /// Makes every reader of <paramref name="from"/> read <paramref name="to"/>: node inputs here and in
    /// nested subgraphs, and outputs of nested subgraphs (bound by position). This graph's own outputs
    /// are its interface and keep their names. Returns the number of reads redirected.
    /// </summary>
    public int ReplaceUses(string from, string to)
    {
        var count = 0;
        foreach (var use in Consumers(from).ToList())
        {
            if (use.Node is not null) use.Node.Input[use.Index] = to;
            else if (!use.IsGraphOutput) use.Graph.Output[use.Index].Name = to;
            else continue;
            count++;
        }
        if (count > 0) Changed();
        return count;
    }

    /// <summary>
    /// Renames a value a node of this graph produces, with all its reads and its value_info. The value must
    /// not be a graph output (outputs are the interface) and <paramref name="to"/> must not be defined here.
    /// </summary>
    public void RenameValue(string from, string to)
    {
        var producer = Producer(from) ?? throw new InvalidOperationException($"'{from}' is not produced by a node of graph '{Proto.Name}'.");
        if (IsGraphOutput(from)) throw new InvalidOperationException($"'{from}' is an output of graph '{Proto.Name}'; outputs keep their names.");
        if (DefinesLocally(to)) throw new InvalidOperationException($"'{to}' is already defined in graph '{Proto.Name}'.");
        ReplaceUses(from, to);
        for (var i = 0; i < producer.Output.Count; i++)
            if (producer.Output[i] == from) producer.Output[i] = to;
        var info = Proto.ValueInfo.FirstOrDefault(v => v.Name == from);
        if (info is not null)
        {
            if (Proto.ValueInfo.Any(v => v.Name == to)) Proto.ValueInfo.Remove(info);
            else info.Name = to;
        }
        Changed();
    }

    /// <summary>Whether this graph may hold new initializers (before IR 4 only the main graph can: they must also be inputs).</summary>
    public bool CanAddInitializers => IsMain || !Model.InitializersMustBeInputs;

    /// <summary>Adds an initializer (before IR 4 also the graph input that IR version requires).</summary>
    public void AddInitializer(TensorProto tensor)
    {
        if (!CanAddInitializers) throw new InvalidOperationException($"Graph '{Proto.Name}' cannot hold initializers in IR version {Model.IrVersion}.");
        Proto.Initializer.Add(tensor);
        if (Model.InitializersMustBeInputs)
            Proto.Input.Add(OnnxFactory.TensorValueInfo(tensor.Name, (DataType)tensor.DataType, tensor.Dims.Cast<object?>().ToArray()));
        Changed();
    }

    /// <summary>Removes an initializer (before IR 4 also its graph input, which only existed because of it).</summary>
    public void RemoveInitializer(string name)
    {
        for (var i = Proto.Initializer.Count - 1; i >= 0; i--)
            if (Proto.Initializer[i].Name == name) Proto.Initializer.RemoveAt(i);
        if (IsMain && Model.InitializersMustBeInputs)
            for (var i = Proto.Input.Count - 1; i >= 0; i--)
                if (Proto.Input[i].Name == name) Proto.Input.RemoveAt(i);
        Changed();
    }

    /// <summary>
    /// Gives input <paramref name="index"/> of <paramref name="node"/> the constant <paramref name="value"/>:
    /// overwrites the initializer in place when this node is its only reader, else adds a new initializer
    /// named after <paramref name="baseName"/>. Returns the input's name.
    /// </summary>
    public string SetConstantInput(NodeProto node, int index, NdArray value, string baseName)
    {
        var current = node.InputOrEmpty(index);
        if (current.Length > 0 && IsConstantInitializer(current) && !IsGraphInput(current)
            && Consumers(current) is [{ } only] && ReferenceEquals(only.Node, node))
        {
            for (var i = 0; i < Proto.Initializer.Count; i++)
            {
                if (Proto.Initializer[i].Name != current) continue;
                var replacement = TensorProtoConverter.ToTensorProto(value, current);
                replacement.DocString = Proto.Initializer[i].DocString;
                Proto.Initializer[i] = replacement;
            }
            Changed();
            return current;
        }
        var name = Model.Names.Next(baseName);
        AddInitializer(TensorProtoConverter.ToTensorProto(value, name));
        SetInput(node, index, name);
        return name;
    }

    /// <summary>Reorders the nodes topologically (see <see cref="TopologicalOrder"/>).</summary>
    public void SortTopologically()
    {
        var order = TopologicalOrder();
        for (var i = 0; i < order.Count; i++) Proto.Node[i] = order[i];
        Changed();
    }

    /// <summary>Drops value_info entries of values this graph no longer defines; returns how many.</summary>
    public int PruneValueInfo()
    {
        var removed = 0;
        for (var i = Proto.ValueInfo.Count - 1; i >= 0; i--)
        {
            if (DefinesLocally(Proto.ValueInfo[i].Name)) continue;
            Proto.ValueInfo.RemoveAt(i);
            removed++;
        }
        if (removed > 0) Changed();
        return removed;
    }

    /// <summary>Call after editing node inputs or outputs directly on the protobuf.</summary>
    public void Invalidate() => Changed();

    private void Changed() => Model.Changed();

    // ---------------------------------------------------------------- index

    private Index Current
    {
        get
        {
            if (_index is null || _indexVersion != Model.Version)
            {
                _index = Index.Build(Proto);
                _indexVersion = Model.Version;
            }
            return _index;
        }
    }

    private sealed class Index
    {
        public Dictionary<string, NodeProto> Producers { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, List<ValueUse>> Consumers { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Inputs { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Outputs { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, TensorProto> Initializers { get; } = new(StringComparer.Ordinal);
        public HashSet<string> SparseInitializers { get; } = new(StringComparer.Ordinal);
        public Dictionary<NodeProto, HashSet<string>> OuterReferences { get; } = new(ReferenceEqualityComparer.Instance);

        public static Index Build(GraphProto graph)
        {
            var index = new Index();
            foreach (var input in graph.Input) index.Inputs.Add(input.Name);
            foreach (var initializer in graph.Initializer) index.Initializers.TryAdd(initializer.Name, initializer);
            foreach (var sparse in graph.SparseInitializer)
                if (sparse.Values is not null) index.SparseInitializers.Add(sparse.Values.Name);
            foreach (var node in graph.Node)
                foreach (var output in node.Output)
                    if (output.Length > 0) index.Producers.TryAdd(output, node);

            foreach (var node in graph.Node)
            {
                for (var i = 0; i < node.Input.Count; i++)
                    if (node.Input[i].Length > 0) index.AddUse(node.Input[i], new ValueUse(node, i, graph, node));
                HashSet<string>? outer = null;
                foreach (var sub in OnnxWalk.SubgraphsOf(node))
                    CollectOuterReads(sub, new HashSet<string>(StringComparer.Ordinal), node, (name, use) =>
                    {
                        index.AddUse(name, use);
                        (outer ??= new HashSet<string>(StringComparer.Ordinal)).Add(name);
                    });
                if (outer is not null) index.OuterReferences[node] = outer;
            }
            for (var i = 0; i < graph.Output.Count; i++)
            {
                index.Outputs.Add(graph.Output[i].Name);
                index.AddUse(graph.Output[i].Name, new ValueUse(null, i, graph, null));
            }
            return index;
        }

        private void AddUse(string name, ValueUse use)
        {
            if (!Consumers.TryGetValue(name, out var uses)) Consumers[name] = uses = [];
            uses.Add(use);
        }

        // Reads inside `graph` (and deeper) of names that neither it nor the nested graphs between it and
        // the queried graph define (`bound`): they refer to the queried graph or further out.
        private static void CollectOuterReads(GraphProto graph, HashSet<string> bound, NodeProto holder, Action<string, ValueUse> add)
        {
            var defined = new HashSet<string>(bound, StringComparer.Ordinal);
            foreach (var input in graph.Input) defined.Add(input.Name);
            foreach (var initializer in graph.Initializer) defined.Add(initializer.Name);
            foreach (var sparse in graph.SparseInitializer)
                if (sparse.Values is not null) defined.Add(sparse.Values.Name);
            foreach (var node in graph.Node)
                foreach (var output in node.Output)
                    if (output.Length > 0) defined.Add(output);

            foreach (var node in graph.Node)
            {
                for (var i = 0; i < node.Input.Count; i++)
                    if (node.Input[i].Length > 0 && !defined.Contains(node.Input[i]))
                        add(node.Input[i], new ValueUse(node, i, graph, holder));
                foreach (var sub in OnnxWalk.SubgraphsOf(node)) CollectOuterReads(sub, defined, holder, add);
            }
            for (var i = 0; i < graph.Output.Count; i++)
                if (!defined.Contains(graph.Output[i].Name))
                    add(graph.Output[i].Name, new ValueUse(null, i, graph, holder));
        }
    }
}
