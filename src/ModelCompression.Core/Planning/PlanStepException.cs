namespace ModelCompression.Core.Planning;

/// <summary>
/// A plan step that cannot be applied to the model: an unknown pass, a parameter that does not parse or is out of
/// range, or a node the model does not have. Plans the search makes never cause it; a plan read from a lock can.
/// </summary>
/// <param name="stepIndex">The step's position in the plan.</param>
/// <param name="field">What is wrong in the step, as its lock JSON names it: "pass", "parameters" or "parameters.&lt;name&gt;".</param>
/// <param name="problem">What is wrong, as the end of a sentence that starts with the field.</param>
public sealed class PlanStepException(int stepIndex, string field, string problem, Exception? inner = null)
    : Exception($"Plan step {stepIndex}: '{field}' {problem}.", inner)
{
    public int StepIndex { get; } = stepIndex;

    public string Field { get; } = field;

    public string Problem { get; } = problem;

    /// <summary>The same failure numbered within a longer plan whose first <paramref name="steps"/> steps were applied before.</summary>
    public PlanStepException After(int steps) => new(StepIndex + steps, Field, Problem, InnerException);
}
