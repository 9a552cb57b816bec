using PublicApiGenerator;

namespace FastLstm.Tests;

/// <summary>
/// The public surface of each package, compared with the approved snapshot in tests/FastLstm.Tests/PublicApi, so every API
/// change is deliberate: a difference fails and writes NAME.received.txt beside the snapshot; review it and run the tests
/// with FASTLSTM_ACCEPT_API=1 to approve it.
/// </summary>
public class PublicApiTests
{
    private static readonly string Snapshots = Path.Combine(RepositoryRoot.Path, "tests", "FastLstm.Tests", "PublicApi");

    [Theory]
    [InlineData("FastLstm")]
    [InlineData("FastLstm.Training")]
    [InlineData("FastLstm.Onnx")]
    [InlineData("FastLstm.DependencyInjection")]
    [InlineData("FastLstm.Orleans")]
    public void PublicApiIsTheApprovedOne(string assembly)
    {
        var type = assembly switch
        {
            "FastLstm" => typeof(RnnSpec),
            "FastLstm.Training" => typeof(FastLstm.Training.ModelFile),
            "FastLstm.DependencyInjection" => typeof(Microsoft.Extensions.DependencyInjection.StreamBatcherServiceCollectionExtensions),
            "FastLstm.Orleans" => typeof(FastLstm.Orleans.IRnnStreamGrain),
            _ => typeof(FastLstm.Onnx.OnnxModel),
        };
        string api = type.Assembly.GeneratePublicApi(new ApiGeneratorOptions { AllowNamespacePrefixes = ["Microsoft.Extensions.DependencyInjection"], DenyNamespacePrefixes = ["System", "Microsoft", "OrleansCodeGen"], ExcludeAttributes = ["Orleans.ApplicationPartAttribute", "Orleans.Serialization.Configuration.TypeManifestProviderAttribute", "System.Runtime.Versioning.TargetFrameworkAttribute", "System.Reflection.AssemblyMetadataAttribute", "System.Runtime.CompilerServices.InternalsVisibleToAttribute"] }).ReplaceLineEndings("\n");
        string approved = Path.Combine(Snapshots, $"{assembly}.approved.txt"), received = Path.Combine(Snapshots, $"{assembly}.received.txt");
        if (Environment.GetEnvironmentVariable("FASTLSTM_ACCEPT_API") == "1")
        {
            File.WriteAllText(approved, api);
            File.Delete(received);
        }

        string expected = File.Exists(approved) ? File.ReadAllText(approved) : "";
        if (expected != api)
        {
            File.WriteAllText(received, api);
        }

        Assert.True(expected == api, $"{assembly}'s public API differs from {approved}; the new one is in {received}.");
    }
}
