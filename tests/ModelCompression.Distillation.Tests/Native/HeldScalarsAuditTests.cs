using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using ModelCompression.Distillation.Native;

namespace ModelCompression.Distillation.Tests.Native;

/// <summary>
/// The race <see cref="HeldScalars"/> avoids cannot be reproduced on demand (it needs a collection on another thread
/// during one native call), so this audit reads the compiled distillation assembly instead: no method of it may call
/// TorchSharp in a way that makes a Scalar nothing holds.
/// </summary>
public sealed class HeldScalarsAuditTests
{
    private const string TensorType = "TorchSharp.torch/Tensor";

    /// <summary>
    /// Tensor operators: with a number or a Scalar they make a temporary Scalar (or add an alpha), and Tensor + Tensor
    /// adds TorchSharp's implicit alpha of 1. The others between two tensors take no Scalar.
    /// </summary>
    private static readonly HashSet<string> Operators =
        ["op_Addition", "op_Subtraction", "op_Multiply", "op_Division", "op_LessThan", "op_GreaterThan", "op_LessThanOrEqual", "op_GreaterThanOrEqual"];

    /// <summary>TorchSharp functions that turn their number parameter into a temporary Scalar inside.</summary>
    private static readonly HashSet<string> ConvertingFunctions = ["leaky_relu", "elu", "celu", "hardtanh", "softplus", "threshold", "rrelu"];

    [Fact]
    public void The_distillation_assembly_makes_no_unheld_Scalars()
    {
        var offences = TorchSharpCalls(typeof(HeldScalars).Assembly.Location)
            .Select(call => Offence(call.Target) is { } offence ? $"{call.Caller} calls {call.Target}: {offence}" : null)
            .OfType<string>()
            .Distinct()
            .ToList();

        Assert.True(offences.Count == 0, "Use HeldScalars or a `using` Scalar instead:\n" + string.Join("\n", offences));
    }

    [Fact]
    public void The_audit_sees_an_unheld_Scalar()
    {
        // This test assembly: the method below converts a number to a Scalar and adds tensors with the implicit alpha.
        var calls = TorchSharpCalls(typeof(HeldScalarsAuditTests).Assembly.Location)
            .Where(call => call.Caller.EndsWith(nameof(UnheldScalars), StringComparison.Ordinal))
            .Select(call => Offence(call.Target))
            .OfType<string>()
            .ToList();

        Assert.Contains(calls, offence => offence.StartsWith("an implicit conversion", StringComparison.Ordinal));
        Assert.Contains(calls, offence => offence.StartsWith("a tensor operator", StringComparison.Ordinal));
    }

    // Never run: the audit above reads its IL.
    private static TorchSharp.torch.Tensor UnheldScalars(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => (a + b).mul(2.0);

    private sealed record Call(string Caller, MemberCall Target);

    /// <summary>A call into TorchSharp: its declaring type ("TorchSharp.torch/Tensor"), name and parameter types.</summary>
    private sealed record MemberCall(string Type, string Name, ImmutableArray<string> Parameters)
    {
        public override string ToString() => $"{Type}::{Name}({string.Join(", ", Parameters)})";
    }

    private static string? Offence(MemberCall call) => call switch
    {
        { Type: "TorchSharp.Scalar", Name: "op_Implicit" } => "an implicit conversion to a Scalar nothing holds",
        { Type: TensorType, Name: "add" or "add_", Parameters.Length: 1 } => "TorchSharp adds a temporary alpha of 1",
        { Type: TensorType } when Operators.Contains(call.Name) && (call.Name == "op_Addition" || call.Parameters.Any(p => p != TensorType)) =>
            "a tensor operator that makes a temporary Scalar (a number, or the alpha of +)",
        { Type: "TorchSharp.torch/nn/functional" } when ConvertingFunctions.Contains(call.Name) => "converts its number to a temporary Scalar",
        { Type: "TorchSharp.torch/optim", Name: "Adam" } or { Type: "TorchSharp.Modules.Adam", Name: "step" } =>
            "TorchSharp's Adam step makes temporary Scalars (use HeldScalarAdam)",
        _ => null,
    };

    private static IEnumerable<Call> TorchSharpCalls(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var calls = new List<Call>();
        foreach (var handle in metadata.MethodDefinitions)
        {
            var method = metadata.GetMethodDefinition(handle);
            if (method.RelativeVirtualAddress == 0) continue;
            var caller = $"{TypeName(metadata, method.GetDeclaringType())}.{metadata.GetString(method.Name)}";
            foreach (var token in MethodTokens(pe.GetMethodBody(method.RelativeVirtualAddress).GetILBytes() ?? []))
            {
                if (Member(metadata, MetadataTokens.EntityHandle(token)) is { } target && target.Type.StartsWith("TorchSharp.", StringComparison.Ordinal))
                    calls.Add(new Call(caller, target));
            }
        }
        return calls;
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(field => (OpCode)field.GetValue(null)!)
        .ToDictionary(code => code.Value);

    /// <summary>The method tokens of every call, callvirt, newobj, ldftn and ldvirtftn in a method body.</summary>
    private static IEnumerable<int> MethodTokens(byte[] il)
    {
        for (var at = 0; at < il.Length;)
        {
            short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            var code = OpCodesByValue[value];
            at += code.Size;
            if (code.OperandType == OperandType.InlineMethod) yield return BitConverter.ToInt32(il, at);
            at += code.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
                _ => 4,
            };
        }
    }

    private static MemberCall? Member(MetadataReader metadata, EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodSpecification:
                return Member(metadata, metadata.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
            case HandleKind.MemberReference:
                var member = metadata.GetMemberReference((MemberReferenceHandle)handle);
                if (member.GetKind() != MemberReferenceKind.Method) return null;
                var signature = member.DecodeMethodSignature(new TypeNames(metadata), null);
                return new MemberCall(TypeName(metadata, member.Parent), metadata.GetString(member.Name), signature.ParameterTypes);
            default:
                return null;
        }
    }

    private static string TypeName(MetadataReader metadata, EntityHandle handle) => handle.Kind switch
    {
        HandleKind.TypeReference => TypeName(metadata, metadata.GetTypeReference((TypeReferenceHandle)handle)),
        HandleKind.TypeDefinition => TypeName(metadata, (TypeDefinitionHandle)handle),
        HandleKind.TypeSpecification => metadata.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(new TypeNames(metadata), null),
        _ => handle.Kind.ToString(),
    };

    private static string TypeName(MetadataReader metadata, TypeReference type) =>
        type.ResolutionScope.Kind == HandleKind.TypeReference
            ? $"{TypeName(metadata, (EntityHandle)type.ResolutionScope)}/{metadata.GetString(type.Name)}"
            : $"{metadata.GetString(type.Namespace)}.{metadata.GetString(type.Name)}";

    private static string TypeName(MetadataReader metadata, TypeDefinitionHandle handle)
    {
        var type = metadata.GetTypeDefinition(handle);
        var declaring = type.GetDeclaringType();
        return declaring.IsNil
            ? $"{metadata.GetString(type.Namespace)}.{metadata.GetString(type.Name)}"
            : $"{TypeName(metadata, declaring)}/{metadata.GetString(type.Name)}";
    }

    /// <summary>Signature types as names: "float64", "TorchSharp.torch/Tensor", "TorchSharp.Scalar".</summary>
    private sealed class TypeNames(MetadataReader metadata) : ISignatureTypeProvider<string, object?>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode switch
        {
            PrimitiveTypeCode.Double => "float64",
            PrimitiveTypeCode.Single => "float32",
            PrimitiveTypeCode.Int64 => "int64",
            PrimitiveTypeCode.Int32 => "int32",
            _ => typeCode.ToString(),
        };

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => TypeName(metadata, reader.GetTypeReference(handle));
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => TypeName(metadata, handle);
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => reader.GetTypeSpecification(handle).DecodeSignature(this, context);
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPinnedType(string elementType) => elementType;
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => $"{genericType}<{string.Join(", ", typeArguments)}>";
        public string GetGenericMethodParameter(object? context, int index) => $"!!{index}";
        public string GetGenericTypeParameter(object? context, int index) => $"!{index}";
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "method*";
    }
}
