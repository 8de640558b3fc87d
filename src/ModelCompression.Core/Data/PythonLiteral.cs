using System.Globalization;
using System.Text;

namespace ModelCompression.Core.Data;

/// <summary>
/// Parses the Python literals an .npy header is written in: dicts, tuples, lists, quoted strings,
/// integers (also Python 2's <c>10L</c>), <c>True</c>, <c>False</c> and <c>None</c>. Dicts become
/// <see cref="Dictionary{TKey, TValue}"/>, tuples and lists <see cref="List{T}"/> (with trailing
/// commas allowed, as Python writes them).
/// </summary>
internal sealed class PythonLiteral
{
    /// <summary>
    /// How deep containers may nest. An .npy header nests a shape tuple in a dict (2); a structured
    /// dtype, refused later with its own message, nests a list of field tuples a little deeper. The
    /// bound keeps this recursive parser far from a stack overflow on a hostile header.
    /// </summary>
    public const int MaxDepth = 8;

    private readonly string _text;
    private int _position;
    private int _depth;

    private PythonLiteral(string text) => _text = text;

    /// <exception cref="FormatException">The text is not one Python literal.</exception>
    public static object? Parse(string text)
    {
        var parser = new PythonLiteral(text);
        var value = parser.Value();
        parser.SkipSpace();
        if (parser._position != text.Length) throw parser.Error("unexpected text after the value");
        return value;
    }

    private object? Value()
    {
        SkipSpace();
        if (_position >= _text.Length) throw Error("the text ends where a value should be");
        var c = _text[_position];
        return c switch
        {
            '{' => Nested(Dict),
            '(' => Nested(() => Sequence(')')),
            '[' => Nested(() => Sequence(']')),
            '\'' or '"' => String(),
            _ when c == '-' || c == '+' || char.IsDigit(c) => Integer(),
            _ when char.IsLetter(c) => Name(),
            _ => throw Error($"unexpected character '{c}'"),
        };
    }

    private T Nested<T>(Func<T> container)
    {
        if (_depth == MaxDepth) throw Error($"containers are nested more than {MaxDepth} deep");
        _depth++;
        var value = container();
        _depth--;
        return value;
    }

    private Dictionary<string, object?> Dict()
    {
        _position++; // {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (true)
        {
            SkipSpace();
            if (TryTake('}')) return dict;
            if (Value() is not string key) throw Error("a dict key is not a string");
            SkipSpace();
            if (!TryTake(':')) throw Error("':' expected after a dict key");
            if (!dict.TryAdd(key, Value())) throw Error($"the key '{key}' appears twice");
            SkipSpace();
            if (TryTake('}')) return dict;
            if (!TryTake(',')) throw Error("',' or '}' expected in a dict");
        }
    }

    private List<object?> Sequence(char close)
    {
        _position++; // ( or [
        var items = new List<object?>();
        while (true)
        {
            SkipSpace();
            if (TryTake(close)) return items;
            items.Add(Value());
            SkipSpace();
            if (TryTake(close)) return items;
            if (!TryTake(',')) throw Error($"',' or '{close}' expected");
        }
    }

    private string String()
    {
        var quote = _text[_position++];
        var builder = new StringBuilder();
        while (_position < _text.Length)
        {
            var c = _text[_position++];
            if (c == quote) return builder.ToString();
            if (c == '\\' && _position < _text.Length) c = _text[_position++];
            builder.Append(c);
        }
        throw Error("a string is not closed");
    }

    private long Integer()
    {
        var start = _position;
        if (_text[_position] is '-' or '+') _position++;
        while (_position < _text.Length && char.IsDigit(_text[_position])) _position++;
        var digits = _text[start.._position];
        if (_position < _text.Length && _text[_position] is 'L' or 'l') _position++;
        return long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Error($"'{digits}' is not an integer");
    }

    private object? Name()
    {
        var start = _position;
        while (_position < _text.Length && char.IsLetterOrDigit(_text[_position])) _position++;
        return _text[start.._position] switch
        {
            "True" => true,
            "False" => false,
            "None" => null,
            var name => throw Error($"'{name}' is not a literal"),
        };
    }

    private void SkipSpace()
    {
        while (_position < _text.Length && char.IsWhiteSpace(_text[_position])) _position++;
    }

    private bool TryTake(char c)
    {
        if (_position >= _text.Length || _text[_position] != c) return false;
        _position++;
        return true;
    }

    private FormatException Error(string what) => new($"{what} at character {_position}");
}
