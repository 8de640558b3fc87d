namespace ModelCompression.Core.Data;

/// <summary>The <c>CompressedModel</c> metadata a data file comes from; errors name it so the user knows what to fix.</summary>
public enum DataSetting
{
    ValidationData,
    CalibrationData,
    TrainingData,
}
