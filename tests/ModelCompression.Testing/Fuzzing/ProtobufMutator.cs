namespace ModelCompression.Testing.Fuzzing;

/// <summary>
/// Mutates a protobuf message through its wire format (<see cref="WireMessage"/>), at any depth:
/// a varint field takes an interesting value (counts, enums, dims, the boundaries of int32 and
/// int64, negative numbers as protobuf encodes them); a string or bytes field goes through the
/// payload mutator with its length prefix kept right; a field is dropped or repeated. Some
/// mutations go to the raw bytes instead, so that the wire format itself is attacked too.
/// </summary>
public sealed class ProtobufMutator(IMutator payload, IMutator raw) : IMutator
{
    private static readonly ulong[] InterestingValues =
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, int.MaxValue, (ulong)int.MaxValue + 1, uint.MaxValue, (ulong)uint.MaxValue + 1,
        long.MaxValue, unchecked((ulong)-1L), unchecked((ulong)(long)int.MinValue), unchecked((ulong)long.MinValue), 1_000_000_000_000,
    ];

    public byte[] Mutate(byte[] input, byte[] other, Random random)
    {
        if (random.Next(5) == 0 || WireMessage.Parse(input) is not { } message) return raw.Mutate(input, other, random);
        var fields = message.AllFields().ToList();
        if (fields.Count == 0) return raw.Mutate(input, other, random);
        var (owner, field) = fields[random.Next(fields.Count)];
        switch (random.Next(4))
        {
            case 0: owner.Remove(field); break;
            case 1: owner.Insert(random.Next(owner.Count + 1), field.Clone()); break;
            default: MutateValue(field, other, random); break;
        }
        return message.ToBytes();
    }

    private void MutateValue(WireField field, byte[] other, Random random)
    {
        switch (field.WireType)
        {
            case WireMessage.Varint:
                field.Value = random.Next(4) == 0 ? (ulong)random.NextInt64() : InterestingValues[random.Next(InterestingValues.Length)];
                break;
            case WireMessage.LengthDelimited:
                // A nested message's own fields are reached through AllFields; here its bytes are mutated as a whole.
                field.Payload = payload.Mutate(field.Nested?.ToBytes() ?? field.Payload, other, random);
                field.Nested = null;
                break;
            default:
                field.Payload = raw.Mutate(field.Payload, other, random);
                break;
        }
    }
}
