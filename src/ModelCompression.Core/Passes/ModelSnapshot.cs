using System.Collections;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes;

/// <summary>A copy of a model that can be put back into the same <see cref="ModelProto"/> object (callers keep their reference).</summary>
public sealed class ModelSnapshot
{
    private readonly ModelProto _copy;

    public ModelSnapshot(ModelProto model) => _copy = model.Clone();

    /// <summary>Makes every field of <paramref name="target"/> equal to the snapshot's again.</summary>
    public void RestoreInto(ModelProto target)
    {
        var restored = _copy.Clone();
        foreach (var field in ModelProto.Descriptor.Fields.InDeclarationOrder())
        {
            var accessor = field.Accessor;
            if (field.IsRepeated)
            {
                var list = (IList)accessor.GetValue(target);
                list.Clear();
                foreach (var item in (IList)accessor.GetValue(restored)) list.Add(item);
                continue;
            }
            accessor.Clear(target);
            if (accessor.HasValue(restored)) accessor.SetValue(target, accessor.GetValue(restored));
        }
    }
}
