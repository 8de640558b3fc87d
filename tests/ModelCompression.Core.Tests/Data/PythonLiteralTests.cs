using ModelCompression.Core.Data;

namespace ModelCompression.Core.Tests.Data;

public class PythonLiteralTests
{
    [Fact]
    public void A_structured_dtype_header_nests_within_the_limit()
    {
        var dict = Assert.IsType<Dictionary<string, object?>>(
            PythonLiteral.Parse("{'descr': [('a', '<f4', (2,)), ('b', '<i8')], 'fortran_order': False, 'shape': (3,), }"));

        Assert.IsType<List<object?>>(dict["descr"]);
    }

    /// <summary>A recursive parser without a bound dies of a stack overflow here, taking the worker with it.</summary>
    [Theory]
    [InlineData('(', ')')]
    [InlineData('[', ']')]
    [InlineData('{', '}')]
    public void Nesting_deeper_than_the_limit_is_a_FormatException_not_a_stack_overflow(char open, char close)
    {
        var deep = new string(open, 1_000_000) + new string(close, 1_000_000);

        var e = Assert.Throws<FormatException>(() => PythonLiteral.Parse(deep));

        Assert.Contains("nested", e.Message);
    }
}
