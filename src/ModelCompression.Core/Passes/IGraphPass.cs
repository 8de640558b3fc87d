using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes;

/// <summary>One model rewrite (a fusion, a fold, a quantization...) that plans, locks and reports name.</summary>
public interface IGraphPass
{
    /// <summary>Stable kebab-case name used in plans, locks and reports, e.g. "fold-batchnorm".</summary>
    string Name { get; }
    /// <summary>Rewrites the model in place; returns the number of rewrites made (0 = unchanged).</summary>
    int Apply(ModelProto model);
}
