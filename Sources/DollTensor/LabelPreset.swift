/// Named label sets: the observations of chest-radiograph datasets. Data (loaders, phantoms) and
/// models (classifier heads) both use them, so they live in the lowest layer both see.
public enum LabelPreset {
    /// CheXpert's 14 observations, in the order of its CSV columns.
    public static let chexpert = [
        "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
        "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
        "Fracture", "Support Devices",
    ]
    /// NIH ChestX-ray14's 14 findings, in the order of its label file.
    public static let nih = [
        "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
        "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
    ]
}
