"""Build an imfit picture in Blender: its own scene (camera, world = bias, colour management that
leaves values unchanged) holding either a Geometry Nodes point cloud of quads (any engine) or a
plane with an OSL Script node (Cycles CPU/OptiX only).

Plain bpy + numpy, no relative imports: the add-on imports it, and `imfit export --to blender`
pastes this file unchanged into STEM_blender.py.

Colour: imfit's model sums display values (pixel = clamp(bias + sum, 0, 1) on sRGB-encoded
values). The nodes path forms that sum by additive blending in Blender's render buffer, so the
buffer must hold display values and the view must not encode them again: the scene uses the
"Raw" view transform (values out = values in) and no dither. Converting to linear inside each
wavelet's shader cannot work, because the sRGB curve of a sum is not the sum of the curves; OSL
uses the same buffer convention so both paths, the viewport and the EXR (= `imfit render`'s
float values) agree. The view is set on the imfit scene only: the user's scene keeps AgX.

Mirror of imfit/renderers/gabor.py and viewer/glsl/gabor.glsl, per wavelet (node by node below):
  u = dx cos(theta) + dy sin(theta), v = dy cos(theta) - dx sin(theta)
  q = (u/sigma)^2 + (v/gamma)^2; 0 if q > R^2 (R = 4.5) else
  amp_c * exp(-q/2) * cos(2 pi u / wavelength + phase_c)
Each wavelet is a quad rotated by theta and scaled to (2R sigma, 2R gamma); its corners carry
(u/sigma, v/gamma) = (+-R, +-R), interpolated exactly (the map is affine), so the shader never
needs the centre and a Geometry Nodes edit of positions, sigma or theta moves the quads with it.
"""

import math

import bpy
import numpy as np

RADIUS = 4.5  # imfit.renderer.DEFAULT_RADIUS / IMFIT_RADIUS in gabor.glsl
ATTR = {"theta": 2, "sigma": 3, "gamma": 4, "wavelength": 5}
PANEL_PROPS = {"imfit_zoom": 1.0, "imfit_center_x": 0.0, "imfit_center_y": 0.0,
               "imfit_gain": 1.0, "imfit_phase": 0.0, "imfit_drift": 0.0}
# the N-panel rows: (property, label); phase in radians, drift in radians per second
PANEL_LABELS = (("imfit_zoom", "Zoom"), ("imfit_center_x", "Centre x"),
                ("imfit_center_y", "Centre y"), ("imfit_gain", "Gain"),
                ("imfit_phase", "Phase (rad)"), ("imfit_drift", "Drift (rad/s)"))
_PANEL_RANGES = {"imfit_zoom": dict(min=1e-3, soft_min=0.05, soft_max=20.0),
                 "imfit_gain": dict(soft_min=0.0, soft_max=4.0),
                 "imfit_drift": dict(soft_min=-10.0, soft_max=10.0)}
# the Geometry Nodes modifier input an artist (or a driver) scales every sigma with
SIGMA_SCALE = "Sigma scale"


def _colour(scene):
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Raw"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    scene.render.dither_intensity = 0.0  # dither adds noise to 8-bit output
    scene.render.film_transparent = False


def new_scene(w, width, height):
    """A scene of its own, so the user's objects (the default Cube...) neither occlude the
    picture nor change: nothing of theirs is moved, hidden or deleted."""
    scene = bpy.data.scenes.new("imfit " + w.name)
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    _colour(scene)
    world = bpy.data.worlds.new("imfit bias " + w.name)
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background") or world.node_tree.nodes.new(
        "ShaderNodeBackground")
    bg.inputs["Color"].default_value = (*w.bias, 1.0)
    bg.inputs["Strength"].default_value = 1.0
    scene.world = world
    for key, value in PANEL_PROPS.items():
        scene[key] = value
        ui = scene.id_properties_ui(key)
        ui.update(description="imfit view: drives the picture's camera and material",
                  **_PANEL_RANGES.get(key, {}))
    return scene


def eevee_engine():
    """EEVEE's engine id: BLENDER_EEVEE_NEXT in 4.2-4.4, BLENDER_EEVEE again from 5.0."""
    items = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items.keys()
    return "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in items else "BLENDER_EEVEE"


def _driver(target, path, scene, expr, index=-1):
    """Drive `target.path` from the scene's imfit_* properties (simple expressions only, so
    they run without 'auto-run Python scripts')."""
    fc = target.driver_add(path, index) if index >= 0 else target.driver_add(path)
    d = fc.driver
    d.type = "SCRIPTED"
    names = [k for k in PANEL_PROPS if k in expr] + (["fps"] if "fps" in expr else [])
    for name in names:
        var = d.variables.new()
        var.name = name
        var.type = "SINGLE_PROP"
        var.targets[0].id_type = "SCENE"
        var.targets[0].id = scene
        var.targets[0].data_path = "render.fps" if name == "fps" else f'["{name}"]'
    d.expression = expr
    return fc


def camera(scene, collection):
    """Orthographic, 2/zoom units tall around the centre (imfit's View.of); y flipped."""
    data = bpy.data.cameras.new(scene.name + " camera")
    data.type = "ORTHO"
    data.sensor_fit = "VERTICAL"
    data.ortho_scale = 2.0
    data.clip_start, data.clip_end = 0.1, 100.0
    cam = bpy.data.objects.new(scene.name + " camera", data)
    cam.location = (0.0, 0.0, 10.0)
    collection.objects.link(cam)
    scene.camera = cam
    return cam


def _node(nodes, kind, loc, **values):
    n = nodes.new(kind)
    n.location = loc
    for k, v in values.items():
        setattr(n, k, v)
    return n


def _math(nodes, links, op, a, b=None, loc=(0, 0)):
    n = _node(nodes, "ShaderNodeMath", loc, operation=op)
    for sock, val in ((n.inputs[0], a), (n.inputs[1], b)):
        if val is None:
            continue
        if isinstance(val, (int, float)):
            sock.default_value = float(val)
        else:
            links.new(val, sock)
    return n.outputs[0]


def _vmath(nodes, links, op, a, b=None, loc=(0, 0)):
    n = _node(nodes, "ShaderNodeVectorMath", loc, operation=op)
    slots = [n.inputs[0], n.inputs[1]] if op != "SCALE" else [n.inputs[0], n.inputs["Scale"]]
    for sock, val in zip(slots, (a, b)):
        if val is None:
            continue
        if isinstance(val, (int, float, tuple)):
            sock.default_value = val
        else:
            links.new(val, sock)
    return n.outputs["Vector"] if "Vector" in n.outputs else n.outputs[0]


def _attr(nodes, name, loc, out="Fac"):
    n = _node(nodes, "ShaderNodeAttribute", loc, attribute_name=name, attribute_type="GEOMETRY")
    return n.outputs[out]


def gabor_material(w, scene, sign=0):
    """One Gabor per quad from shader nodes (EEVEE and Cycles): Emission + Transparent through
    an Add Shader, blended, so overlapping quads add up like imfit's sum. `sign` 0: the signed
    value (Cycles adds negative emission); +1 / -1: only its positive / negated negative part,
    for EEVEE, which clamps emission at 0 (see signed_layers)."""
    suffix = {0: "", 1: " +", -1: " -"}[sign]
    mat = bpy.data.materials.new("imfit gabor nodes " + w.name + suffix)
    mat.use_nodes = True
    mat.surface_render_method = "BLENDED"  # EEVEE: forward, additive over what is behind
    mat.use_transparency_overlap = True  # every overlapping quad of the object, not the front
    mat.use_backface_culling = False
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    uv = _attr(nodes, "imfit_uv", (-1400, 300), "Vector")  # (u/sigma, v/gamma), +-R at corners
    sep = _node(nodes, "ShaderNodeSeparateXYZ", (-1200, 300))
    links.new(uv, sep.inputs[0])
    qu, qv = sep.outputs["X"], sep.outputs["Y"]
    q = _math(nodes, links, "ADD", _math(nodes, links, "MULTIPLY", qu, qu, (-1000, 400)),
              _math(nodes, links, "MULTIPLY", qv, qv, (-1000, 250)), (-850, 300))
    env = _math(nodes, links, "EXPONENT", _math(nodes, links, "MULTIPLY", q, -0.5, (-700, 350)),
                None, (-550, 350))
    inside = _math(nodes, links, "LESS_THAN", q, RADIUS * RADIUS + 1e-4, (-700, 200))
    gain = _node(nodes, "ShaderNodeValue", (-700, 50), label="Gain", name="Gain")
    phase = _node(nodes, "ShaderNodeValue", (-700, -100), label="Phase", name="Phase")
    _driver(gain.outputs[0], "default_value", scene, "imfit_gain")
    _driver(phase.outputs[0], "default_value", scene, "imfit_phase + imfit_drift * frame / fps")
    weight = _math(nodes, links, "MULTIPLY",
                   _math(nodes, links, "MULTIPLY", env, inside, (-400, 300)), gain.outputs[0],
                   (-250, 300))
    u = _math(nodes, links, "MULTIPLY", qu, _attr(nodes, "imfit_sigma", (-1200, 0)), (-1000, 0))
    arg = _math(nodes, links, "MULTIPLY", u,
                _math(nodes, links, "DIVIDE", 2.0 * math.pi,
                      _attr(nodes, "imfit_wavelength", (-1200, -150)), (-1000, -150)),
                (-850, -50))
    comb = _node(nodes, "ShaderNodeCombineXYZ", (-700, -250))
    for k in range(3):
        links.new(_math(nodes, links, "ADD", arg, phase.outputs[0], (-550, -50 - 80 * k)),
                  comb.inputs[k])
    waves = _vmath(nodes, links, "COSINE",
                   _vmath(nodes, links, "ADD", comb.outputs[0],
                          _attr(nodes, "imfit_phase", (-700, -450), "Vector"), (-500, -300)),
                   None, (-350, -300))
    colour = _vmath(nodes, links, "SCALE",
                    _vmath(nodes, links, "MULTIPLY", waves,
                           _attr(nodes, "imfit_amp", (-350, -450), "Vector"), (-200, -350)),
                    None, (-50, -200))
    links.new(weight, colour.node.inputs["Scale"])
    if sign:
        colour = _vmath(nodes, links, "MAXIMUM",
                        _vmath(nodes, links, "SCALE", colour, float(sign), (0, -350)),
                        (0.0, 0.0, 0.0), (100, -350))
    emit = _node(nodes, "ShaderNodeEmission", (150, -100))
    links.new(colour, emit.inputs["Color"])
    emit.inputs["Strength"].default_value = 1.0
    clear = _node(nodes, "ShaderNodeBsdfTransparent", (150, 50))
    clear.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    add = _node(nodes, "ShaderNodeAddShader", (350, 0))
    links.new(clear.outputs[0], add.inputs[0])
    links.new(emit.outputs[0], add.inputs[1])
    out = _node(nodes, "ShaderNodeOutputMaterial", (550, 0))
    links.new(add.outputs[0], out.inputs["Surface"])
    return mat


def wavelet_points(w, collection):
    """A mesh of N loose vertices at the wavelet centres (Blender y up = -imfit y) with the
    other parameters as point attributes, named imfit_*."""
    p = w.params.astype(np.float32)
    mesh = bpy.data.meshes.new("imfit wavelets " + w.name)
    mesh.vertices.add(len(p))
    co = np.zeros((len(p), 3), np.float32)
    co[:, 0], co[:, 1] = p[:, 0], -p[:, 1]
    mesh.vertices.foreach_set("co", co.ravel())
    for name, col in ATTR.items():
        a = mesh.attributes.new("imfit_" + name, "FLOAT", "POINT")
        a.data.foreach_set("value", p[:, col].copy())
    for name, cols in (("phase", slice(6, 9)), ("amp", slice(9, 12))):
        a = mesh.attributes.new("imfit_" + name, "FLOAT_VECTOR", "POINT")
        a.data.foreach_set("vector", np.ascontiguousarray(p[:, cols]).ravel())
    mesh.update()
    obj = bpy.data.objects.new("imfit wavelets " + w.name, mesh)
    collection.objects.link(obj)
    return obj


def gabor_nodes_tree(name, material):
    """Points -> a quad per wavelet (rotation -theta, scale 2R sigma x 2R gamma) -> realized
    mesh with the material. Edit the points before 'Instance on Points' (Store Named Attribute
    on imfit_sigma, Set Position...) and the picture follows."""
    tree = bpy.data.node_groups.new("imfit gabor quads " + name, "GeometryNodeTree")
    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    sock = tree.interface.new_socket(SIGMA_SCALE, in_out="INPUT", socket_type="NodeSocketFloat")
    sock.default_value, sock.min_value, sock.max_value = 1.0, 1e-3, 1e3
    sock.description = "multiplies every wavelet's sigma (the quads and the shader follow)"
    nodes, links = tree.nodes, tree.links
    gin = _node(nodes, "NodeGroupInput", (-900, 0))
    gout = _node(nodes, "NodeGroupOutput", (900, 0))
    grid = _node(nodes, "GeometryNodeMeshGrid", (-700, -300))
    grid.inputs["Size X"].default_value = 1.0
    grid.inputs["Size Y"].default_value = 1.0
    grid.inputs["Vertices X"].default_value = 2
    grid.inputs["Vertices Y"].default_value = 2
    # corner (u/sigma, v/gamma) = (UV - 0.5) * 2R: stored on the quad, carried by instancing
    local = _node(nodes, "ShaderNodeVectorMath", (-500, -400), operation="MULTIPLY_ADD")
    links.new(grid.outputs["UV Map"], local.inputs[0])
    local.inputs[1].default_value = (2 * RADIUS, 2 * RADIUS, 0.0)
    local.inputs[2].default_value = (-RADIUS, -RADIUS, 0.0)
    store = _node(nodes, "GeometryNodeStoreNamedAttribute", (-300, -300), data_type="FLOAT_VECTOR",
                  domain="CORNER")
    store.inputs["Name"].default_value = "imfit_uv"
    links.new(grid.outputs["Mesh"], store.inputs["Geometry"])
    links.new(local.outputs[0], store.inputs["Value"])
    named = {}
    for i, key in enumerate(("theta", "sigma", "gamma")):
        n = _node(nodes, "GeometryNodeInputNamedAttribute", (-700, 300 - 120 * i),
                  data_type="FLOAT")
        n.inputs["Name"].default_value = "imfit_" + key
        named[key] = n.outputs["Attribute"]
    rot = _node(nodes, "ShaderNodeCombineXYZ", (-300, 300))
    neg = _node(nodes, "ShaderNodeMath", (-500, 300), operation="MULTIPLY")
    links.new(named["theta"], neg.inputs[0])
    neg.inputs[1].default_value = -1.0  # imfit's y is down: theta turns the other way here
    links.new(neg.outputs[0], rot.inputs["Z"])
    scale = _node(nodes, "ShaderNodeCombineXYZ", (-300, 100))
    scale.inputs["Z"].default_value = 1.0
    for key, axis in (("sigma", "X"), ("gamma", "Y")):
        m = _node(nodes, "ShaderNodeMath", (-500, 150 if axis == "X" else 50),
                  operation="MULTIPLY")
        links.new(named[key], m.inputs[0])
        m.inputs[1].default_value = 2 * RADIUS
        links.new(m.outputs[0], scale.inputs[axis])
    # Cycles continues a ray from the surface it hit and skips coplanar ones: stack the quads
    # 1e-3 apart in depth (the camera is orthographic, so the picture does not change)
    index = _node(nodes, "GeometryNodeInputIndex", (-700, 600))
    lift = _node(nodes, "ShaderNodeMath", (-500, 600), operation="MULTIPLY")
    links.new(index.outputs[0], lift.inputs[0])
    lift.inputs[1].default_value = -1e-3
    offset = _node(nodes, "ShaderNodeCombineXYZ", (-300, 600))
    links.new(lift.outputs[0], offset.inputs["Z"])
    stack = _node(nodes, "GeometryNodeSetPosition", (-150, 500), name="Stack in depth")
    links.new(gin.outputs[0], stack.inputs["Geometry"])
    links.new(offset.outputs[0], stack.inputs["Offset"])
    # imfit_sigma *= Sigma scale, stored back on the points: the quads' size below and the
    # shader's wave (u = (u/sigma) * sigma) both read the stored value
    sigma_in = _node(nodes, "GeometryNodeInputNamedAttribute", (-500, 800), data_type="FLOAT")
    sigma_in.inputs["Name"].default_value = "imfit_sigma"
    scaled = _node(nodes, "ShaderNodeMath", (-300, 800), operation="MULTIPLY")
    links.new(sigma_in.outputs["Attribute"], scaled.inputs[0])
    links.new(gin.outputs[SIGMA_SCALE], scaled.inputs[1])
    rescale = _node(nodes, "GeometryNodeStoreNamedAttribute", (-150, 800), data_type="FLOAT",
                    domain="POINT", name="Scale sigma")
    rescale.inputs["Name"].default_value = "imfit_sigma"
    links.new(stack.outputs[0], rescale.inputs["Geometry"])
    links.new(scaled.outputs[0], rescale.inputs["Value"])
    inst = _node(nodes, "GeometryNodeInstanceOnPoints", (0, 0), name="Instance on Points")
    links.new(rescale.outputs[0], inst.inputs["Points"])
    links.new(store.outputs["Geometry"], inst.inputs["Instance"])
    links.new(rot.outputs[0], inst.inputs["Rotation"])
    links.new(scale.outputs[0], inst.inputs["Scale"])
    real = _node(nodes, "GeometryNodeRealizeInstances", (300, 0))
    links.new(inst.outputs["Instances"], real.inputs["Geometry"])
    setm = _node(nodes, "GeometryNodeSetMaterial", (600, 0))
    setm.inputs["Material"].default_value = material
    links.new(real.outputs[0], setm.inputs["Geometry"])
    links.new(setm.outputs[0], gout.inputs[0])
    return tree


def signed_layers(w, scene):
    """EEVEE clamps emission at 0 (measured: a single wavelet's negative lobes rendered as the
    bias), so a sum of signed wavelets cannot be formed by blending in one pass. Two view
    layers render the same quads with the material overridden by the positive part P and the
    negated negative part N (each over the bias b), and the compositor forms
    (b + P) - (b + N) + b = b + sum. Cycles renders the same two layers (negative emission
    would work there, but one scene should give one picture in every engine); the scene's
    first view layer keeps the signed material for the viewport (exact in Cycles)."""
    first = scene.view_layers[0]
    first.use = False  # the viewport's layer; the render uses the two below
    layers = []
    for sign, name in ((1, "imfit +"), (-1, "imfit -")):
        layer = scene.view_layers.new(name)
        layer.material_override = gabor_material(w, scene, sign)
        layers.append(layer)
    bias = tuple(w.bias)
    if hasattr(scene, "compositing_node_group"):  # Blender 5.0: compositor node groups
        tree = bpy.data.node_groups.new("imfit signed sum " + w.name, "CompositorNodeTree")
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        scene.compositing_node_group = tree
        out = _node(tree.nodes, "NodeGroupOutput", (600, 0))
        out_socket = out.inputs[0]
    else:  # Blender 4.2-4.5
        scene.use_nodes = True
        tree = scene.node_tree
        tree.nodes.clear()
        out = _node(tree.nodes, "CompositorNodeComposite", (600, 0))
        out_socket = out.inputs["Image"]
    nodes, links = tree.nodes, tree.links
    rl = []
    for i, layer in enumerate(layers):
        n = _node(nodes, "CompositorNodeRLayers", (-400, 200 - 300 * i))
        n.scene, n.layer = scene, layer.name
        rl.append(n.outputs["Image"])
    diff = _vmath(nodes, links, "SUBTRACT", rl[0], rl[1], (-100, 0))
    total = _vmath(nodes, links, "ADD", diff, bias, (150, 0))
    links.new(total, out_socket)
    return layers


def _ensure_oslquery():
    """The bpy wheel keeps Blender's own site-packages (oslquery) off sys.path; Cycles needs it
    to read a compiled shader's sockets."""
    import os
    import sys

    try:
        import oslquery  # noqa: F401
        return
    except ImportError:
        pass
    lib = os.path.join(bpy.utils.resource_path("LOCAL"), "python", "lib")
    for name in sorted(os.listdir(lib)) if os.path.isdir(lib) else []:
        site = os.path.join(lib, name, "site-packages")
        if os.path.isdir(os.path.join(site, "oslquery")) and site not in sys.path:
            sys.path.append(site)


def osl_plane(w, scene, collection, osl_source):
    """A plane filling the camera whose OSL Script node evaluates every wavelet (Cycles CPU or
    OptiX with Shading System = OSL; EEVEE ignores Script nodes)."""
    _ensure_oslquery()
    from cycles import osl as cycles_osl

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.shading_system = True
    aspect = scene.render.resolution_x / scene.render.resolution_y
    mesh = bpy.data.meshes.new("imfit plane " + w.name)
    mesh.from_pydata([(-aspect, -1, 0), (aspect, -1, 0), (aspect, 1, 0), (-aspect, 1, 0)], [],
                     [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for loop, co in zip(uv.data, [(0, 0), (1, 0), (1, 1), (0, 1)]):
        loop.uv = co
    plane = bpy.data.objects.new("imfit plane " + w.name, mesh)
    collection.objects.link(plane)
    # the plane rides with the camera: zoom and centre are the shader's inputs, like imfit's view
    plane.parent = scene.camera
    plane.location = (0.0, 0.0, -5.0)
    text = bpy.data.texts.new("imfit " + w.name + ".osl")
    text.from_string(osl_source)
    mat = bpy.data.materials.new("imfit gabor osl " + w.name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    coord = _node(nodes, "ShaderNodeTexCoord", (-500, 0))
    script = _node(nodes, "ShaderNodeScript", (-250, 0), mode="INTERNAL", script=text)
    problems = []
    if not cycles_osl.update_script_node(script, lambda kind, msg: problems.append(msg)):
        raise RuntimeError("OSL compile failed: " + "; ".join(problems))
    emit = _node(nodes, "ShaderNodeEmission", (50, 0))
    out = _node(nodes, "ShaderNodeOutputMaterial", (250, 0))
    links.new(coord.outputs["UV"], script.inputs["Coord"])
    links.new(script.outputs["Color"], emit.inputs["Color"])
    links.new(emit.outputs["Emission"], out.inputs["Surface"])
    for sock, expr in (("Zoom", "imfit_zoom"), ("CenterX", "imfit_center_x"),
                       ("CenterY", "imfit_center_y"), ("Gain", "imfit_gain"),
                       ("Phase", "imfit_phase + imfit_drift * frame / fps")):
        _driver(script.inputs[sock], "default_value", scene, expr)
    mesh.materials.append(mat)
    return plane


def build(w, method="NODES", width=None, height=None, osl_source=None, activate=True):
    """The imfit scene for wavelets `w` (params (N, 12), width, height, bias, name); `method`
    NODES (Geometry Nodes + shader nodes: EEVEE, Cycles CPU/GPU) or OSL (Cycles CPU). Makes it
    the window's scene when there is a window. Returns the scene."""
    width = width or w.width
    height = height or w.height
    scene = new_scene(w, width, height)
    collection = bpy.data.collections.new("imfit " + w.name)
    scene.collection.children.link(collection)
    cam = camera(scene, collection)
    if method == "OSL":
        if osl_source is None:
            raise ValueError("the OSL path needs the shader source")
        osl_plane(w, scene, collection, osl_source)
    else:
        # zoom and centre move the camera: the quads stay where the wavelets are
        _driver(cam.data, "ortho_scale", scene, "2 / imfit_zoom")
        _driver(cam, "location", scene, "imfit_center_x", 0)
        _driver(cam, "location", scene, "-imfit_center_y", 1)
        mat = gabor_material(w, scene)
        obj = wavelet_points(w, collection)
        mod = obj.modifiers.new("imfit gabor quads", "NODES")
        mod.node_group = gabor_nodes_tree(w.name, mat)
        obj.data.materials.append(mat)
        signed_layers(w, scene)
        scene.render.engine = eevee_engine()
        scene.eevee.taa_render_samples = 1
        if hasattr(scene, "cycles"):
            # every quad a camera ray passes through is one transparent bounce
            scene.cycles.transparent_max_bounces = 1024
    scene.render.filter_size = 0.01  # EEVEE: no reconstruction blur; torch samples the centre
    if hasattr(scene, "cycles"):
        scene.cycles.samples = 1
        scene.cycles.use_denoising = False
        scene.cycles.filter_width = 0.01  # a pixel's centre, like torch (no Blackman-Harris)
    if activate and bpy.context.window is not None:
        bpy.context.window.scene = scene
    return scene


def render(scene, path, engine=None, samples=None):
    """Render `scene` to `path`: .png 8-bit (display values), .exr 32-bit float. `engine`
    "cycles" or "eevee" (default: the scene's own)."""
    if engine:
        scene.render.engine = {"cycles": "CYCLES", "eevee": eevee_engine()}[engine.lower()]
    if samples:
        scene.cycles.samples = samples
        scene.eevee.taa_render_samples = samples
    fmt = scene.render.image_settings
    if path.lower().endswith(".exr"):
        fmt.file_format, fmt.color_depth = "OPEN_EXR", "32"
    else:
        fmt.file_format, fmt.color_depth, fmt.color_mode = "PNG", "8", "RGB"
    import os

    scene.render.filepath = os.path.abspath(path)
    with bpy.context.temp_override(scene=scene):
        bpy.ops.render.render(write_still=True, scene=scene.name)
