import ConvLensCore

/// The rule set of a back-projection (DESIGN.md §1): how rectifying nonlinearities pass the
/// backward signal.
public enum ProjectionRule: String, Sendable, Hashable, CaseIterable, Codable {
    /// Zeiler & Fergus: rectify the backward signal, ignore the forward mask.
    case deconvnet
    /// Springenberg et al.: rectify the backward signal and apply the forward mask.
    case guided
    /// The plain gradient (saliency).
    case backprop
}
