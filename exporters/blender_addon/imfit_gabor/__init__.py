"""imfit Gabor set: File > Import > imfit Gabor set (.gabor.json, .tsv, .csv, .npz) builds the
picture in a scene of its own, and a sidebar tab "imfit" (3D view, N) drives zoom, centre,
gain, phase and drift (radians per second; the drift is a driver on the frame, so playback
animates it).

An installable add-on in both of Blender's forms: `bl_info` for the legacy Install from Disk,
`blender_manifest.toml` beside it for Blender 4.2+ extensions (the module is then
bl_ext.<repo>.imfit_gabor: the imports below are relative for that reason). `imfit export --to
blender` writes this package as imfit_gabor.zip and pastes the same module texts into its
standalone STEM_blender.py, so there is one copy of the Blender-side code.
"""

import bpy
from bpy.props import EnumProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from . import osl, scene, wavelets

bl_info = {
    "name": "imfit Gabor set",
    "author": "imfit authors",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "File > Import > imfit Gabor set; 3D View > Sidebar > imfit",
    "description": "Import imfit Gabor wavelet fits as an editable picture (Geometry Nodes or "
                   "OSL)",
    "category": "Import-Export",
}

METHODS = (("NODES", "Geometry Nodes", "A quad per wavelet with a shader-node Gabor: EEVEE, "
            "Cycles CPU and GPU, the viewport; edit the wavelets with Geometry Nodes"),
           ("OSL", "OSL", "One OSL Script node evaluating every wavelet: Cycles on CPU (or "
            "OptiX) only"))


class IMFIT_OT_import_gabor(bpy.types.Operator, ImportHelper):
    """Import an imfit Gabor set as a picture in a scene of its own"""

    bl_idname = "import_scene.imfit_gabor"
    bl_label = "Import imfit Gabor set"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.gabor.json;*.json;*.tsv;*.csv;*.npz",
                                options={"HIDDEN"})
    method: EnumProperty(name="Material", items=METHODS, default="NODES")
    max_count: IntProperty(name="N cap", default=0, min=0,
                           description="Keep only the N strongest wavelets (0 = all)")
    width: IntProperty(name="Width", default=256, min=1, max=16384,
                       description="Frame width for tables (.tsv/.csv), which hold no frame")
    height: IntProperty(name="Height", default=256, min=1, max=16384,
                        description="Frame height for tables (.tsv/.csv)")

    def execute(self, context):
        try:
            w = wavelets.read(self.filepath, self.width, self.height)
        except wavelets.WaveletFileError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        w = w.strongest(self.max_count)
        source = osl.source(w) if self.method == "OSL" else None
        new = scene.build(w, method=self.method, osl_source=source)
        self.report({"INFO"}, f"imfit: {len(w)} wavelets in scene {new.name!r}")
        return {"FINISHED"}


class IMFIT_PT_view(bpy.types.Panel):
    """The imfit scene's view: what the viewer's keys change, as drivers' inputs"""

    bl_idname = "IMFIT_PT_view"
    bl_label = "imfit view"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "imfit"

    def draw(self, context):
        sc = context.scene
        layout = self.layout
        if "imfit_zoom" not in sc:
            layout.label(text="Not an imfit scene: File > Import > imfit Gabor set")
            return
        for key, label in scene.PANEL_LABELS:
            layout.prop(sc, f'["{key}"]', text=label)
        layout.label(text="phase now = phase + drift x time (frame / fps)")


def menu_import(self, context):
    self.layout.operator(IMFIT_OT_import_gabor.bl_idname,
                         text="imfit Gabor set (.gabor.json, .tsv, .csv, .npz)")


CLASSES = (IMFIT_OT_import_gabor, IMFIT_PT_view)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.TOPBAR_MT_file_import.append(menu_import)


def unregister():
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
