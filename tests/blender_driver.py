"""Run by the bpy venv's Python (not by pytest): every real-bpy check of tests/test_blender.py in
one Blender session, because each bpy process costs seconds to start and EEVEE compiles its
shaders once per process.

    python blender_driver.py JOBS.json OUT.json

JOBS.json: {"script": STEM_blender.py, "zip": imfit_gabor.zip, "json": fit.gabor.json,
"npz": fit.npz, "bad": a corrupt file, "out": folder, "eevee_size": [w, h]}. Every render is a
PNG in "out"; OUT.json holds what the test asserts on (object states, timings, messages).
"""

import json
import runpy
import sys
import time
import traceback

import bpy

jobs_path, result_path = sys.argv[1:3]
JOBS = json.load(open(jobs_path))
OUT = JOBS["out"]
RESULT = {}


def save():
    with open(result_path, "w") as f:
        json.dump(RESULT, f, indent=1)


def job(fn):
    """Run one check; a failure is recorded (with its traceback) and the others still run."""
    t0 = time.monotonic()
    try:
        RESULT[fn.__name__] = fn() or {}
    except Exception:  # noqa: BLE001 - reported to the test, which fails on it
        RESULT[fn.__name__] = {"error": traceback.format_exc()}
    RESULT[fn.__name__]["seconds"] = round(time.monotonic() - t0, 2)
    save()


def objects_state(scene):
    return {o.name: {"location": list(o.location), "rotation": list(o.rotation_euler),
                     "scale": list(o.scale), "hide_render": o.hide_render,
                     "hide_viewport": o.hide_viewport,
                     "visible": o.visible_get(view_layer=scene.view_layers[0])}
            for o in scene.objects}


def run_script(*argv):
    """The exported script as `python STEM_blender.py ARGV` (its __main__ block)."""
    sys.argv = [JOBS["script"], *argv]
    return runpy.run_path(JOBS["script"], run_name="__main__")


def script_module():
    """The exported script's functions without running its __main__ block."""
    return runpy.run_path(JOBS["script"], run_name="imfit_script")


def imfit_scene():
    return [s for s in bpy.data.scenes if s.name.startswith("imfit ")][-1]


def imported(**kw):
    """Run the add-on's import operator; (its result, the scene it made)."""
    before = set(bpy.data.scenes)
    res = list(bpy.ops.import_scene.imfit_gabor(**kw))
    made = [s for s in bpy.data.scenes if s not in before]
    return res, (made[0] if len(made) == 1 else None)


def factory():
    """p1 + p2: the factory startup file (Cube, Light, Camera) plus an object of the user's in
    front of everything; the script's Cycles PNG and the user's objects before/after."""
    bpy.ops.wm.read_factory_settings(use_empty=False)
    user = bpy.context.scene
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.7, location=(0.2, -0.1, 3.0))
    bpy.context.active_object.name = "User sphere"
    bpy.context.active_object.hide_render = False
    before = objects_state(user)
    view_before = user.view_settings.view_transform
    run_script("--render", OUT + "/factory.png", "--engine", "cycles")
    pic = imfit_scene()
    return {"before": before, "after": objects_state(user), "user_scene": user.name,
            "scenes": [s.name for s in bpy.data.scenes],
            "user_view": [view_before, user.view_settings.view_transform],
            "picture_view": pic.view_settings.view_transform,
            "picture_objects": sorted(o.name for o in pic.objects)}


def osl():
    bpy.ops.wm.read_factory_settings(use_empty=False)
    run_script("--render", OUT + "/osl.png", "--path", "osl")
    return {}


def view_and_drift():
    """The panel's properties: zoom, centre, gain, phase, drift on frame 12 at 24 fps."""
    bpy.ops.wm.read_factory_settings(use_empty=False)
    g = script_module()
    scene = g["build"]("nodes")
    scene.render.fps, scene.render.fps_base = 24, 1.0
    for key, value in JOBS["view"].items():
        scene["imfit_" + key] = value
    scene.frame_set(JOBS["frame"])
    g["addon"]().scene.render(scene, OUT + "/view.png", "cycles")
    return {}


def gn_sigma():
    """p3: the Geometry Nodes modifier's Sigma scale input set to 2."""
    bpy.ops.wm.read_factory_settings(use_empty=False)
    g = script_module()
    scene = g["build"]("nodes")
    obj = [o for o in scene.objects if o.type == "MESH"][0]
    mod = obj.modifiers[0]
    item = [i for i in mod.node_group.interface.items_tree if i.name == "Sigma scale"][0]
    mod[item.identifier] = 2.0
    obj.update_tag()
    g["addon"]().scene.render(scene, OUT + "/sigma2.png", "cycles")
    return {"modifier": mod.name, "input": item.identifier}


def eevee():
    """p3: EEVEE (Next) render of the nodes path, a tiny frame (shader compilation dominates)."""
    bpy.ops.wm.read_factory_settings(use_empty=False)
    w, h = JOBS["eevee_size"]
    run_script("--render", OUT + "/eevee.png", "--engine", "eevee", "--size", f"{w}x{h}")
    return {"engine": imfit_scene().render.engine}


def addon():
    """p4: install + enable the zip as a legacy add-on, the File > Import entry, the operator on
    a .gabor.json (nodes) and a .npz (OSL, N cap), a corrupt file; then the same zip as a 4.2+
    extension."""
    import addon_utils

    bpy.ops.wm.read_factory_settings(use_empty=False)
    r = {}
    bpy.ops.preferences.addon_install(filepath=JOBS["zip"], overwrite=True)
    bpy.ops.preferences.addon_enable(module="imfit_gabor")
    r["enabled"] = [m for m in bpy.context.preferences.addons.keys() if "imfit" in m]
    r["panel"] = hasattr(bpy.types, "IMFIT_PT_view")
    menu = bpy.types.TOPBAR_MT_file_import
    r["menu"] = [f.__name__ for f in getattr(menu.draw, "_draw_funcs", [])]
    mod = sys.modules["imfit_gabor"]
    r["bl_info_name"] = mod.bl_info["name"]
    imported(filepath=JOBS["json"])  # a first import: the second gets a scene of its own too
    r["json"], scene = imported(filepath=JOBS["json"])
    r["json_scenes"] = [s.name for s in bpy.data.scenes]
    mod.scene.render(scene, OUT + "/addon_json.png", "cycles")
    r["npz"], scene = imported(filepath=JOBS["npz"], method="OSL", max_count=JOBS["cap"])
    mod.scene.render(scene, OUT + "/addon_npz.png", "cycles")
    try:
        r["bad"] = imported(filepath=JOBS["bad"])[0]
    except RuntimeError as e:  # bpy turns an operator's ERROR report into RuntimeError
        r["bad"] = ["RuntimeError", str(e).strip()]
    bpy.ops.preferences.addon_disable(module="imfit_gabor")
    r["panel_after_disable"] = hasattr(bpy.types, "IMFIT_PT_view")
    # the same zip as an extension (Blender 4.2+: Get Extensions > Install from Disk)
    bpy.ops.wm.read_factory_settings(use_empty=False)
    bpy.ops.extensions.package_install_files(filepath=JOBS["zip"], repo="user_default",
                                             enable_on_install=True)
    r["extension"] = [m for m in bpy.context.preferences.addons.keys() if "imfit" in m]
    r["extension_modules"] = [m.__name__ for m in addon_utils.modules() if "imfit" in m.__name__]
    r["extension_json"], scene = imported(filepath=JOBS["json"])
    ext = sys.modules[[m for m in r["extension"] if m.startswith("bl_ext.")][0]]
    ext.scene.render(scene, OUT + "/extension_json.png", "cycles")
    return r


RESULT["blender"] = bpy.app.version_string
for name in JOBS["run"]:
    job(globals()[name])
save()
