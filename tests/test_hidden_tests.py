"""Every hidden test of lessons 01, 02, 06 and 10: its constants equal what the reference code
computes, it passes the instructor's answer, and it fails plausible wrong answers, including
answers that try to talk it round (rebinding names, redefining builtins, patching NumPy's
testing functions, returning objects that claim to equal anything, calling a forbidden helper).

The hidden test is run outside nbgrader, in a namespace that stands in for the notebook's
(tests/hidden.py); tests/test_grading_sandbox.py grades hostile notebooks with real nbgrader.
"""
from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf
from hidden import REPO, constants, run_hidden, run_solution

from helpers import models, viva
from helpers.backbones import build_backbone, get_backbone
from helpers.data import adapt_images, adapted_dataset, bytes_as_float32, load_dataset


def passes(lesson: str, grade_id: str, namespace: dict) -> None:
    run_hidden(lesson, grade_id, namespace)


def fails(lesson: str, grade_id: str, namespace: dict) -> str:
    with pytest.raises(AssertionError) as failure:
        run_hidden(lesson, grade_id, namespace)
    return str(failure.value)


class Anything:
    """A value that claims to equal anything and to be any number (an answer that lies)."""

    shape = (2, 96, 96, 3)
    dtype = "float32"

    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0

    def __float__(self):
        return 0.0

    def __int__(self):
        return 0

    def __getitem__(self, key):
        return self

    def __iter__(self):
        return iter([self, self])

    def __len__(self):
        return 2

    __lt__ = __le__ = __gt__ = __ge__ = __eq__


def talked_round(namespace: dict) -> dict:
    """The notebook after a student tried every cheap trick on the names a test might use."""
    np.testing.assert_allclose = np.testing.assert_array_equal = lambda *args, **kwargs: None
    namespace.update(abs=lambda value: 0, len=lambda value: 2, float=lambda value: 0.0, int=lambda value: 0,
                     tuple=lambda value: Anything(), isinstance=lambda *args: True, str=lambda value: "float32",
                     adapt_images=namespace.get("preprocess"), np=np)
    return namespace


@pytest.fixture(autouse=True)
def restore_numpy_testing():
    saved = np.testing.assert_allclose, np.testing.assert_array_equal
    yield
    np.testing.assert_allclose, np.testing.assert_array_equal = saved


# ---------------------------------------------------------------- lesson 01: preprocess

L01 = "01_data_preparation"
SYNTHETIC_28 = (np.arange(2 * 28 * 28).reshape(2, 28, 28) * 37 % 256).astype(np.uint8)  # as in the hidden test


def preprocess_namespace(**changes) -> dict:
    namespace = {"np": np, "tf": tf, "mobilenet": get_backbone("mobilenet_v2")}
    return run_solution(L01, "01_preprocess", namespace, **changes)


def test_01_preprocess_constants_are_adapt_images():
    reference = adapt_images(SYNTHETIC_28, "mobilenet_v2", 96)
    for (image, row, column, channel), value in constants(L01, "01_preprocess_test")["EXPECTED"].items():
        assert reference[image, row, column, channel] == pytest.approx(value, abs=1e-5)


def test_01_preprocess_hidden_test_passes_the_solution_and_puts_adapt_images_back():
    code = adapt_images.__code__
    passes(L01, "01_preprocess_test", preprocess_namespace())
    assert adapt_images.__code__ is code


def wrong_scaling(images):
    rgb = tf.image.grayscale_to_rgb(tf.image.resize(images[..., None].astype("float32"), (96, 96)))
    return np.asarray(rgb / 255.0, dtype=np.float32)


def nearest_resize(images):
    rgb = tf.image.grayscale_to_rgb(tf.image.resize(images[..., None].astype("float32"), (96, 96), method="nearest"))
    return np.asarray(get_backbone("mobilenet_v2").preprocess_input(rgb), dtype=np.float32)


def one_channel(images):
    resized = tf.image.resize(images[..., None].astype("float32"), (96, 96))
    return np.asarray(get_backbone("mobilenet_v2").preprocess_input(resized), dtype=np.float32)


def through_the_stream(images):
    return np.asarray(next(iter(adapted_dataset(images, None, "mobilenet_v2", 96, batch_size=len(images)))))


@pytest.mark.parametrize("wrong, reason", [
    (wrong_scaling, "x / 255 instead of preprocess_input"),
    (nearest_resize, "nearest-neighbour resizing"),
    (one_channel, "gray left with one channel"),
    (lambda images: adapt_images(images, "mobilenet_v2", 96), "calls the forbidden adapt_images"),
    (through_the_stream, "calls adapted_dataset, which adapts with the same code"),
    (lambda images: Anything(), "returns an object that equals anything"),
])
def test_01_preprocess_hidden_test_fails(wrong, reason):
    fails(L01, "01_preprocess_test", preprocess_namespace(preprocess=wrong))


def test_01_preprocess_hidden_test_is_not_talked_round():
    message = fails(L01, "01_preprocess_test", talked_round(preprocess_namespace(preprocess=wrong_scaling)))
    assert "values" in message


def test_01_forbidden_call_is_named():
    message = fails(L01, "01_preprocess_test",
                    preprocess_namespace(preprocess=lambda images: adapt_images(images, "mobilenet_v2", 96)))
    assert "must not call adapt_images" in message


# ---------------------------------------------------------------- lesson 01: array_gb


def test_01_array_gb_constants_are_bytes_as_float32():
    for (n_images, size, channels), value in constants(L01, "01_naive_memory_test")["EXPECTED"].items():
        assert bytes_as_float32(n_images, size, channels) / 1e9 == pytest.approx(value, rel=1e-12)


def array_gb_namespace(**changes) -> dict:
    return run_solution(L01, "01_naive_memory", {"np": np}, **changes)


def test_01_array_gb_hidden_test_passes_the_solution():
    passes(L01, "01_naive_memory_test", array_gb_namespace())


@pytest.mark.parametrize("wrong, reason", [
    (lambda n, size, channels=3: 8.064, "types the number section 5 printed"),
    (lambda n, size, channels=3: n * size * size * channels * 4 / 2**30, "GiB instead of GB"),
    (lambda n, size, channels=3: n * size * size * channels / 1e9, "one byte per value"),
    (lambda n, size, channels=3: n * size * size * 3 * 4 / 1e9, "ignores channels"),
    (lambda n, size, channels=3: bytes_as_float32(n, size, channels) / 1e9, "calls the forbidden helper"),
    (lambda n, size, channels=3: Anything(), "returns an object that equals anything"),
])
def test_01_array_gb_hidden_test_fails(wrong, reason):
    fails(L01, "01_naive_memory_test", talked_round(array_gb_namespace(array_gb=wrong)))


# ---------------------------------------------------------------- lesson 02: shapes computed on other inputs

L02 = "02_feature_extraction"


def test_02_pooled_shape_constants_are_the_models():
    mobilenet = build_backbone("mobilenet_v2", size=128, weights=None)
    tapped = mobilenet.get_layer("block_6_expand_relu").output
    expected = constants(L02, "02_pooled_shape_test")["EXPECTED"]
    assert expected == {"mobilenet": (5, int(mobilenet.output.shape[-1])), "tapped": (3, int(tapped.shape[-1])),
                        "small": (4, 7)}


@pytest.fixture(scope="module")
def mobilenet_96():
    return build_backbone("mobilenet_v2", size=96, weights=None)


def shapes_namespace(grade_id: str, base, **changes) -> dict:
    return run_solution(L02, grade_id, {"build_backbone": build_backbone, "base": base}, **changes)


def test_02_pooled_shape_hidden_test_passes_the_solution(mobilenet_96):
    passes(L02, "02_pooled_shape_test", shapes_namespace("02_pooled_shape", mobilenet_96))


@pytest.mark.parametrize("wrong, reason", [
    (lambda base, n: (n, 1280), "types MobileNetV2's width"),
    (lambda base, n: (8, int(base.output.shape[-1])), "types the batch of the visible test"),
    (lambda base, n: (n, *[int(d) for d in base.output.shape[1:]]), "the feature map, not pooled"),
    (lambda base, n: Anything(), "returns an object that equals anything"),
])
def test_02_pooled_shape_hidden_test_fails(wrong, reason, mobilenet_96):
    fails(L02, "02_pooled_shape_test", talked_round(shapes_namespace("02_pooled_shape", mobilenet_96, pooled_shape=wrong)))


def test_02_map_shape_constants_are_the_models():
    for size, shape in constants(L02, "02_map_shape_test")["EXPECTED"].items():
        assert tuple(build_backbone("mobilenet_v2", size=size, weights=None).output.shape[1:]) == shape


def test_02_map_shape_hidden_test_passes_the_solution(mobilenet_96):
    passes(L02, "02_map_shape_test", shapes_namespace("02_map_shape", mobilenet_96))


@pytest.mark.parametrize("wrong, reason", [
    (lambda size: (4, 4, 1280), "types the shape at 128"),
    (lambda size: (size // 32, size // 32, 1280), "rounds the side down"),
    (lambda size: (1, -(-size // 32), -(-size // 32), 1280), "keeps a batch axis"),
])
def test_02_map_shape_hidden_test_fails(wrong, reason, mobilenet_96):
    fails(L02, "02_map_shape_test", talked_round(shapes_namespace("02_map_shape", mobilenet_96, map_shape=wrong)))


# ---------------------------------------------------------------- lesson 06: exercises

L06 = "06_exercises"
P06 = SimpleNamespace(size=96, other_size=128, tap_layer="block_13_expand_relu", unfreeze=20)


@pytest.fixture(scope="module")
def fashion_8():
    return load_dataset("fashion_mnist", n_train=8, n_test=8).x_train[:8]


def lesson_06(images, **changes) -> dict:
    """The names lesson 06's first cells define (the models without ImageNet weights where these do not matter)."""
    namespace = {"np": np, "keras": keras, "P": P06, "images": images, "adapt_images": adapt_images,
                 "build_backbone": build_backbone, "build_transfer_model": models.build_transfer_model,
                 "base_of": models.base_of, "unfreeze_top": models.unfreeze_top,
                 "parameter_counts": models.parameter_counts}
    namespace.update(changes)
    return namespace


def test_06_pooled_features_constants_are_extract_features(fashion_8):
    from helpers.features import extract_features

    reference = extract_features(fashion_8, "mobilenet_v2", 96)
    for (image, feature), value in constants(L06, "06_pooled_features_test")["EXPECTED"].items():
        assert reference[image, feature] == pytest.approx(value, abs=1e-4)


def test_06_pooled_features_hidden_test_passes_the_solution(fashion_8):
    passes(L06, "06_pooled_features_test", run_solution(L06, "06_pooled_features", lesson_06(fashion_8)))


def divided_by_255(namespace: dict) -> None:
    rgb = tf.image.grayscale_to_rgb(tf.image.resize(namespace["images"][..., None].astype("float32"), (96, 96)))
    namespace["pooled"] = keras.layers.GlobalAveragePooling2D()(namespace["base"](rgb / 255.0, training=False))


def max_pooled(namespace: dict) -> None:
    namespace["pooled"] = keras.layers.GlobalMaxPooling2D()(namespace["feature_map"])


def not_frozen(namespace: dict) -> None:
    namespace["base"].trainable = True


@pytest.mark.parametrize("mistake", [divided_by_255, max_pooled, not_frozen])
def test_06_pooled_features_hidden_test_fails(fashion_8, mistake):
    namespace = run_solution(L06, "06_pooled_features", lesson_06(fashion_8))
    mistake(namespace)
    fails(L06, "06_pooled_features_test", talked_round(namespace))


def test_06_other_shapes_constants_are_the_models():
    expected = constants(L06, "06_other_shapes_test")
    base = build_backbone("mobilenet_v2", size=96, weights=None)
    for size, shape in expected["EXPECTED_MAPS"].items():
        assert (8, *build_backbone("mobilenet_v2", size=size, weights=None).output.shape[1:]) == shape
    for layer, shape in expected["EXPECTED_TAPS"].items():
        assert (8, base.get_layer(layer).output.shape[-1]) == shape


@pytest.fixture(scope="module")
def features_06(fashion_8):
    return run_solution(L06, "06_pooled_features", lesson_06(fashion_8))


def test_06_other_shapes_hidden_test_passes_the_solution(features_06):
    passes(L06, "06_other_shapes_test", run_solution(L06, "06_other_shapes", dict(features_06)))


@pytest.mark.parametrize("wrong", [
    {"map_shape_at": lambda size: (8, 4, 4, 1280)},  # the shape at 128, typed
    {"map_shape_at": lambda size: (size // 32, size // 32, 1280)},  # no batch axis
    {"tap_pooled_shape": lambda layer: (8, 576)},  # the width of P.tap_layer, typed
])
def test_06_other_shapes_hidden_test_fails(features_06, wrong):
    namespace = run_solution(L06, "06_other_shapes", dict(features_06))
    fails(L06, "06_other_shapes_test", talked_round({**namespace, **wrong}))


@pytest.fixture()
def transfer_06():
    return lesson_06(None, model=models.build_transfer_model("mobilenet_v2", size=96, weights=None))


def counted(model) -> tuple[int, int]:
    counts = models.parameter_counts(model)
    return counts.trainable, counts.non_trainable


def mixed_model():
    """The small model of the hidden tests of 06_parameter_counts and 10_learned_share."""
    mixed = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.BatchNormalization(name="bn"), keras.layers.Dense(2, name="dense")])
    mixed.get_layer("conv").trainable = False
    return mixed


def test_06_parameter_counts_constants_are_parameter_counts():
    expected = constants(L06, "06_parameter_counts_test")["EXPECTED"]
    assert expected == {"transfer": counted(models.build_transfer_model("mobilenet_v2", size=96, weights=None)),
                        "scratch": counted(models.build_scratch_cnn()), "mixed": counted(mixed_model())}


def test_06_parameter_counts_hidden_test_passes_the_solution(transfer_06):
    passes(L06, "06_parameter_counts_test", run_solution(L06, "06_parameter_counts", transfer_06))


def by_layer_flags(model):
    """Counts whole layers by their trainable flag: BatchNorm's moving statistics come out trainable."""
    trainable = sum(layer.count_params() for layer in model.layers if layer.trainable)
    return trainable, model.count_params() - trainable


@pytest.mark.parametrize("wrong", [
    lambda model: (model.count_params(), 0),
    lambda model: (len(model.trainable_weights), len(model.non_trainable_weights)),
    by_layer_flags,
])
def test_06_parameter_counts_hidden_test_fails(transfer_06, wrong):
    namespace = run_solution(L06, "06_parameter_counts", transfer_06)
    namespace["count_parameters"] = wrong
    fails(L06, "06_parameter_counts_test", talked_round(namespace))


def test_06_unfrozen_counts_constants_are_parameter_counts():
    model = models.build_transfer_model("mobilenet_v2", size=96, weights=None)
    models.unfreeze_top(models.base_of(model), 20)
    assert constants(L06, "06_unfrozen_counts_test")["EXPECTED"] == counted(model)


def test_06_unfrozen_counts_hidden_test_passes_the_solution(transfer_06):
    namespace = run_solution(L06, "06_parameter_counts", transfer_06)
    passes(L06, "06_unfrozen_counts_test", run_solution(L06, "06_unfrozen_counts", namespace))


def test_06_unfrozen_counts_hidden_test_fails_when_another_model_was_unfrozen(transfer_06):
    namespace = run_solution(L06, "06_parameter_counts", transfer_06)
    fresh = models.build_transfer_model("mobilenet_v2", size=96, weights=None)
    models.unfreeze_top(models.base_of(fresh), 20)
    namespace["counts_after"] = namespace["count_parameters"](fresh)  # right numbers, wrong model
    fails(L06, "06_unfrozen_counts_test", talked_round(namespace))


def test_06_resnet_swap_constants_are_resnet50(fashion_8):
    expected = constants(L06, "06_resnet_swap_test")
    model = models.build_transfer_model("resnet50", size=96, weights=None)
    base = models.base_of(model)
    assert expected["EXPECTED"] == {"layers": len(base.layers), "base parameters": base.count_params(),
                                    "trainable": models.parameter_counts(model).trainable}
    batch = adapt_images(fashion_8, "resnet50", 96)
    for position, value in expected["EXPECTED_BATCH"].items():
        assert batch[position] == pytest.approx(value, abs=1e-3)


@pytest.fixture(scope="module")
def resnet_06(fashion_8):
    return run_solution(L06, "06_resnet_swap", lesson_06(fashion_8, resnet_weights=None))


def test_06_resnet_swap_hidden_test_passes_the_solution(resnet_06):
    passes(L06, "06_resnet_swap_test", dict(resnet_06))


@pytest.mark.parametrize("mistake", ["mobilenet preprocessing", "features of another batch"])
def test_06_resnet_swap_hidden_test_fails(resnet_06, mistake):
    namespace = dict(resnet_06)
    wrong_batch = adapt_images(namespace["images"], "mobilenet_v2", 96)
    pooled = keras.layers.GlobalAveragePooling2D()(namespace["resnet_base"](wrong_batch, training=False))
    namespace["resnet_features"] = pooled
    if mistake == "mobilenet preprocessing":
        namespace["resnet_batch"] = wrong_batch
    fails(L06, "06_resnet_swap_test", talked_round(namespace))


def test_06_resnet_preprocess_constants_are_keras():
    colours = (np.arange(2 * 8 * 8 * 3).reshape(2, 8, 8, 3) * 7 % 256).astype("float32")  # as in the hidden test
    reference = keras.applications.resnet50.preprocess_input(colours.copy())
    for position, value in constants(L06, "06_resnet_preprocess_test")["EXPECTED"].items():
        assert reference[position] == pytest.approx(value, abs=1e-4)


def test_06_resnet_preprocess_hidden_test_passes_the_solution():
    passes(L06, "06_resnet_preprocess_test", run_solution(L06, "06_resnet_preprocess", lesson_06(None)))


@pytest.mark.parametrize("wrong", [
    lambda images: images / 127.5 - 1,  # MobileNetV2's
    lambda images: images - np.array([103.939, 116.779, 123.68], dtype="float32"),  # means without RGB -> BGR
    lambda images: keras.applications.resnet50.preprocess_input(images / 255.0),  # already scaled
])
def test_06_resnet_preprocess_hidden_test_fails(wrong):
    fails(L06, "06_resnet_preprocess_test", talked_round(lesson_06(None, resnet_preprocess=wrong)))


# ---------------------------------------------------------------- lesson 10: learned share and the graded quiz

L10 = "10_viva_review"


def test_10_learned_share_constants_are_parameter_counts():
    expected = constants(L10, "10_learned_share_test")["EXPECTED"]
    share = {}
    for name, model in (("frozen", models.build_transfer_model("mobilenet_v2", size=96, weights=None)),
                        ("unfrozen", models.build_transfer_model("mobilenet_v2", size=96, weights=None)),
                        ("mixed", mixed_model())):
        if name == "unfrozen":
            models.unfreeze_top(models.base_of(model), 20)
        share[name] = models.parameter_counts(model).trainable / models.parameter_counts(model).total
    assert expected == share


def learned_share_namespace(**changes) -> dict:
    namespace = {"models": models, "model": models.build_transfer_model("mobilenet_v2", size=96, weights=None)}
    return run_solution(L10, "10_learned_share", namespace, **changes)


def test_10_learned_share_hidden_test_passes_the_solution():
    passes(L10, "10_learned_share_test", learned_share_namespace())


@pytest.mark.parametrize("wrong", [
    lambda model: 12_810 / 2_270_794,  # the share printed for the lesson's model, typed
    lambda model: models.parameter_counts(model).trainable / models.parameter_counts(model).non_trainable,
    lambda model: len(model.trainable_weights) / len(model.weights),
])
def test_10_learned_share_hidden_test_fails(wrong):
    fails(L10, "10_learned_share_test", talked_round(learned_share_namespace(learned_share=wrong)))


def quiz_key() -> tuple:
    keys = [constants(L10, grade_id)["QUIZ_KEY"] for grade_id in ("10_quiz_pass_test", "10_quiz_all_test")]
    assert keys[0] == keys[1], "the two quiz tests must hold the same key"
    return keys[0]


def test_10_quiz_key_names_the_graded_questions_in_order():
    graded = viva.graded_quiz()
    key = quiz_key()
    assert [item_id for item_id, _ in key] == [item["id"] for item in graded]
    assert all(letter in viva.LETTERS[: len(item["choices"])] for (_, letter), item in zip(key, graded))
    letters = [letter for _, letter in key]
    assert max(letters.count(letter) for letter in set(letters)) <= 4  # not guessable by always answering "a"


def test_10_solution_answers_are_the_key():
    namespace = run_solution(L10, "10_quiz", {"viva": viva, "quiz": viva.graded_quiz()})
    assert namespace["answers"] == [letter for _, letter in quiz_key()]


@pytest.mark.parametrize("answers, right", [
    (["b", "c", "a", "d", "c", "a", "d", "b", "a", "c"], 10),
    ([1, 2, 0, 3, 2, 0, 3, 1, 0, 2], 10),  # indices count like letters
    ([" B", "C", "a", "d", "c", "a", "d", "b", "a", "a"], 9),
    (["b", "c", "a", "d", "c", "a", "d", "a", "b", "b"], 7),
    (["b", "c", "a", "d", "c", "a", "a", "a", "b", "b"], 6),
    (["a"] * 10, 3),
])
def test_10_quiz_hidden_tests_count_right_answers(answers, right):
    namespace = talked_round({"answers": answers})
    for grade_id, needed in (("10_quiz_pass_test", 7), ("10_quiz_all_test", 10)):
        if right >= needed:
            passes(L10, grade_id, dict(namespace))
        else:
            assert f"{right} of 10 right" in fails(L10, grade_id, dict(namespace))


def test_10_quiz_hidden_tests_fail_an_answer_list_that_claims_to_be_right():
    class Claims(list):
        def __eq__(self, other):
            return True

    fails(L10, "10_quiz_pass_test", {"answers": Claims([Anything()] * 10)})


def test_10_the_key_is_nowhere_in_the_students_copy():
    key = quiz_key()
    letters = [letter for _, letter in key]
    leaks = [repr(letters), repr(letters).replace("'", '"'), repr(letters).replace("'", '\\"'), "QUIZ_KEY",
             repr(key[0]), repr(key[0]).replace("'", '"')]
    students_copy = [*REPO.glob("lessons/**/*.ipynb"), *REPO.glob("helpers/**/*.py"), *REPO.glob("helpers/**/*.json")]
    assert len(students_copy) > 20
    found = [(path.name, leak) for path in students_copy for leak in leaks if leak in path.read_text(encoding="utf-8")]
    assert not found, found
