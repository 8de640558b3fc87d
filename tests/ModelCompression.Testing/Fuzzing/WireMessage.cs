namespace ModelCompression.Testing.Fuzzing;

/// <summary>
/// A protobuf message as its wire format sees it, without a schema: fields of varints, fixed-size
/// values and length-delimited payloads, where a payload that reads as a message is kept as one
/// (so nested fields can be reached). Writing it again gives the same bytes, with every length
/// prefix recomputed after a change.
/// </summary>
public sealed class WireMessage
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    public List<WireField> Fields { get; } = [];

    /// <summary>The message, or null when the bytes are not a wire-format message (or hold groups, which ONNX never uses).</summary>
    public static WireMessage? Parse(ReadOnlySpan<byte> bytes)
    {
        var message = new WireMessage();
        var position = 0;
        while (position < bytes.Length)
        {
            if (ReadVarint(bytes, ref position) is not { } tag || tag >> 3 is 0 or > int.MaxValue) return null;
            var field = new WireField((int)(tag >> 3), (int)(tag & 7));
            switch (field.WireType)
            {
                case Varint:
                    if (ReadVarint(bytes, ref position) is not { } value) return null;
                    field.Value = value;
                    break;
                case Fixed64 or Fixed32:
                    var size = field.WireType == Fixed64 ? 8 : 4;
                    if (bytes.Length - position < size) return null;
                    field.Payload = bytes.Slice(position, size).ToArray();
                    position += size;
                    break;
                case LengthDelimited:
                    if (ReadVarint(bytes, ref position) is not { } length || length > (ulong)(bytes.Length - position)) return null;
                    field.Payload = bytes.Slice(position, (int)length).ToArray();
                    field.Nested = length > 0 ? Parse(field.Payload) : null;
                    position += (int)length;
                    break;
                default:
                    return null;
            }
            message.Fields.Add(field);
        }
        return message;
    }

    public byte[] ToBytes()
    {
        var output = new List<byte>();
        foreach (var field in Fields)
        {
            WriteVarint(output, ((ulong)field.Number << 3) | (uint)field.WireType);
            switch (field.WireType)
            {
                case Varint:
                    WriteVarint(output, field.Value);
                    break;
                case LengthDelimited:
                    var payload = field.Nested?.ToBytes() ?? field.Payload;
                    WriteVarint(output, (ulong)payload.Length);
                    output.AddRange(payload);
                    break;
                default:
                    output.AddRange(field.Payload);
                    break;
            }
        }
        return [.. output];
    }

    /// <summary>Every field of this message and of the messages nested in it, each with the list that holds it.</summary>
    public IEnumerable<(List<WireField> Owner, WireField Field)> AllFields()
    {
        foreach (var field in Fields)
        {
            yield return (Fields, field);
            if (field.Nested is not null)
                foreach (var nested in field.Nested.AllFields()) yield return nested;
        }
    }

    private static ulong? ReadVarint(ReadOnlySpan<byte> bytes, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64 && position < bytes.Length; shift += 7)
        {
            var b = bytes[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        return null;
    }

    private static void WriteVarint(List<byte> output, ulong value)
    {
        while (value >= 0x80)
        {
            output.Add((byte)(value | 0x80));
            value >>= 7;
        }
        output.Add((byte)value);
    }
}

/// <summary>One field of a <see cref="WireMessage"/>: a varint <see cref="Value"/>, or a <see cref="Payload"/> that may hold a <see cref="Nested"/> message.</summary>
public sealed class WireField(int number, int wireType)
{
    public int Number { get; } = number;

    public int WireType { get; } = wireType;

    public ulong Value { get; set; }

    public byte[] Payload { get; set; } = [];

    /// <summary>The payload read as a message; when set, it is what is written.</summary>
    public WireMessage? Nested { get; set; }

    public WireField Clone() => new(Number, WireType)
    {
        Value = Value,
        Payload = Payload,
        Nested = Nested is null ? null : WireMessage.Parse(Nested.ToBytes()),
    };
}
