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
/// TorchSharp in a way that makes a Scalar nothing holds. Which TorchSharp methods do that inside is read from
/// TorchSharp's own IL (see <see cref="TorchSharpConverters"/>), not listed by hand.
/// </summary>
public sealed class HeldScalarsAuditTests(ITestOutputHelper output)
{
    /// <summary>Every call in TorchSharp's own method bodies.</summary>
    private static readonly Lazy<List<Call>> TorchSharpCalls = new(() => MethodCalls(typeof(TorchSharp.torch).Assembly.Location));

    /// <summary>
    /// TorchSharp's methods that turn a number into a Scalar inside, and every TorchSharp method that calls one of them,
    /// each with the calls that lead to the conversion. A method that holds the Scalar it makes would be counted too; none
    /// that the distillation assembly calls does.
    /// </summary>
    private static readonly Lazy<Dictionary<string, string>> TorchSharpConverters = new(() => Converters(TorchSharpCalls.Value));

    [Fact]
    public void The_distillation_assembly_makes_no_unheld_Scalars()
    {
        var offences = MethodCalls(typeof(HeldScalars).Assembly.Location)
            .Where(call => call.Target.Type.StartsWith("TorchSharp.", StringComparison.Ordinal))
            .Select(call => Offence(call.Target) is { } offence ? $"{call.Caller} calls {call.Target}: {offence}" : null)
            .OfType<string>()
            .Distinct()
            .ToList();

        Assert.True(offences.Count == 0, "Use HeldScalars or a `using` Scalar instead:\n" + string.Join("\n", offences));
    }

    [Fact]
    public void The_audit_sees_an_unheld_Scalar()
    {
        // This test assembly: the method below converts a number to a Scalar, adds tensors with TorchSharp's implicit alpha
        // and squares with its implicit exponent.
        var offences = MethodCalls(typeof(HeldScalarsAuditTests).Assembly.Location)
            .Where(call => call.Caller.Contains($"::{nameof(UnheldScalars)}(", StringComparison.Ordinal))
            .Select(call => (call.Target.Name, Offence: Offence(call.Target)))
            .Where(call => call.Offence is not null)
            .ToList();

        Assert.Contains(offences, call => call.Name == "op_Implicit");
        Assert.Contains(offences, call => call.Name == "op_Addition" && call.Offence!.EndsWith("Scalar::op_Implicit(int32)", StringComparison.Ordinal));
        Assert.Contains(offences, call => call.Name == "square" && call.Offence!.EndsWith("square → TorchSharp.Scalar::op_Implicit(int32)", StringComparison.Ordinal));
    }

    [Fact]
    public void TorchSharps_IL_shows_the_conversions_inside()
    {
        // As TorchSharp 0.107 reads: square() is pow(2), the one-argument add passes an alpha of 1.
        Assert.Contains("TorchSharp.torch/Tensor::square()", TorchSharpConverters.Value.Keys);
        Assert.Contains("TorchSharp.torch/Tensor::add(TorchSharp.torch/Tensor)", TorchSharpConverters.Value.Keys);
        Assert.DoesNotContain("TorchSharp.torch/Tensor::add(TorchSharp.torch/Tensor, TorchSharp.Scalar)", TorchSharpConverters.Value.Keys);
        var methods = TorchSharpCalls.Value.Select(call => call.Caller).Distinct().Count();
        output.WriteLine($"{TorchSharpConverters.Value.Count} of the {methods} TorchSharp methods that make calls convert a number to a Scalar inside.");
    }

    // Never run: the audit above reads its IL.
    private static TorchSharp.torch.Tensor UnheldScalars(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => (a + b).square().mul(2.0);

    private sealed record Call(string Caller, MemberCall Target);

    /// <summary>A called method: its declaring type ("TorchSharp.torch/Tensor"), name and parameter types.</summary>
    private sealed record MemberCall(string Type, string Name, ImmutableArray<string> Parameters)
    {
        public override string ToString() => $"{Type}::{Name}({string.Join(", ", Parameters)})";
    }

    private static string? Offence(MemberCall call) => call switch
    {
        _ when IsConversion(call) => "an implicit conversion to a Scalar nothing holds",
        // Its step converts (TorchSharpConverters has it), but a trainer reaches that step through a virtual call.
        { Type: "TorchSharp.torch/optim", Name: "Adam" } => "TorchSharp's Adam step makes temporary Scalars (use HeldScalarAdam)",
        _ when TorchSharpConverters.Value.TryGetValue(call.ToString(), out var route) => $"TorchSharp makes a Scalar nothing holds inside: {call.Name} → {route}",
        _ => null,
    };

    private static bool IsConversion(MemberCall call) => call is { Type: "TorchSharp.Scalar", Name: "op_Implicit" };

    // Inside TorchSharp the explicit conversion counts too; the distillation assembly converts explicitly only into a
    // Scalar it holds (a `using`, or a HeldScalars field), which this reading cannot tell from an unheld one.
    private static bool IsConversionInside(MemberCall call) => IsConversion(call) || call is { Type: "TorchSharp.ScalarExtensionMethods", Name: "ToScalar" };

    private static Dictionary<string, string> Converters(IEnumerable<Call> calls)
    {
        var callees = calls.GroupBy(call => call.Caller, call => call.Target).ToList();
        var routes = new Dictionary<string, string>();
        foreach (var method in callees)
        {
            if (method.FirstOrDefault(IsConversionInside) is { } conversion) routes[method.Key] = conversion.ToString();
        }
        // A caller of a converter converts too; repeat until a pass adds nothing.
        for (var added = true; added;)
        {
            added = false;
            foreach (var method in callees.Where(method => !routes.ContainsKey(method.Key)))
            {
                if (method.FirstOrDefault(target => routes.ContainsKey(target.ToString())) is not { } next) continue;
                routes[method.Key] = $"{next.Name} → {routes[next.ToString()]}";
                added = true;
            }
        }
        return routes;
    }

    /// <summary>Every call in every method body of an assembly; the caller as "Type::Name(parameters)".</summary>
    private static List<Call> MethodCalls(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var calls = new List<Call>();
        foreach (var handle in metadata.MethodDefinitions)
        {
            var method = metadata.GetMethodDefinition(handle);
            if (method.RelativeVirtualAddress == 0) continue;
            var caller = Member(metadata, handle)!.ToString();
            foreach (var token in MethodTokens(pe.GetMethodBody(method.RelativeVirtualAddress).GetILBytes() ?? []))
            {
                if (Member(metadata, MetadataTokens.EntityHandle(token)) is { } target) calls.Add(new Call(caller, target));
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
            case HandleKind.MethodDefinition:
                var definition = metadata.GetMethodDefinition((MethodDefinitionHandle)handle);
                var definitionSignature = definition.DecodeSignature(new TypeNames(metadata), null);
                return new MemberCall(TypeName(metadata, definition.GetDeclaringType()), metadata.GetString(definition.Name), definitionSignature.ParameterTypes);
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
