"""Assignment 4, "Detect the overfit model": four anonymous zoo classifiers, held-out evidence.

Chapter: book/finetuned.md. Written by `course_notebooks.build("04_detect_overfit")`.
The letters are shuffled by `bertlab.course.anonymous_zoo` (a hash of the course key); the
expected answers stand only in the hidden tests below.
"""

from course_notebooks import answer, explore, markdown, readonly, tests, written


def cells():
    return [
        markdown('''
        # Assignment 4: detect the overfit model

        *About 35 minutes, after the chapter "Fine-tuned and overfit models".*

        Four review-sentiment classifiers, **A** to **D**, were fine-tuned from the same model by
        different recipes. One is healthy; the others are not. You get each model's accuracy on
        its own training data and its predictions on held-out reviews it never saw, and
        bertlab's attention spread per layer. Compute the evidence with your own functions, apply
        the chapter's rules, and name what each model is.

        | part | what you write | points |
        |---|---|---|
        | 1 | `held_out_evidence`: accuracy, confidence, confidence gap, collapse | 3 |
        | 2 | `verdict`: the chapter's rules | 3 |
        | 3 | `ANSWERS`: your verdict for A–D | 4 |
        | 4 | a written justification | 3 |'''),
        readonly('''
        import functools
        import math

        import pandas as pd
        import torch

        import bertlab
        from bertlab import course
        from bertlab.diagnosis import (COLLAPSED_PREDICTIONS, LEARNT_SKILL, OVERFIT_ACCURACY_GAP,
                                       OVERFIT_CONFIDENCE_GAP, class_probabilities,
                                       classifier_evidence, normalised_entropy)

        VERDICTS = ("healthy", "overfit", "degenerate", "inconclusive")
        #: Largest difference allowed from bertlab's numbers: float32 rounding.
        TOLERANCE = 1e-4

        models = course.anonymous_zoo()                # {"A": CourseModel(letter, lm, train_accuracy)}
        HELD_OUT = bertlab.load_reviews("test").groupby("label").head(32)   # 32 per label, unseen
        labels = torch.tensor(HELD_OUT.label.to_numpy())                     # [N]
        probabilities = {letter: class_probabilities(m.lm.model, m.lm.tokenizer,
                                                     HELD_OUT.text.tolist())   # [N, C]
                         for letter, m in models.items()}
        spread = pd.DataFrame({letter: normalised_entropy(m.lm, HELD_OUT.text.head(8).tolist())
                               .groupby("layer")["normalised_entropy"].mean()
                               for letter, m in models.items()})          # one row per layer
        print(f"{len(HELD_OUT)} held-out reviews; models {', '.join(models)}; training accuracy "
              + ", ".join(f"{letter} {m.train_accuracy:.2f}" for letter, m in models.items()))'''
                 , "setup"),
        markdown('''
        ## Part 1: held-out evidence (3 points)

        `probabilities[letter]` is `[N, C]`: each row the model's class probabilities for one
        held-out review (C classes). With `labels` `[N]`, write `held_out_evidence(probs,
        labels)` returning a dict with:

        * `accuracy`: the share of reviews whose most probable class is the label;
        * `chance`: the share of the most common label (what always answering it would score);
        * `confidence`: the mean, over reviews, of the *top* class probability;
        * `confidence_gap`: `confidence - accuracy` (a model sure of wrong answers has a large gap);
        * `top_prediction_share`: the share of reviews given the most often predicted class.'''),
        readonly('''
        @functools.cache
        def bertlab_evidence(letter):
            """The reference: bertlab's classifier_evidence of one model on HELD_OUT."""
            return classifier_evidence(models[letter].lm, HELD_OUT)


        def check_held_out_evidence(held_out_evidence, letters=("A", "B")):
            """The checks of Part 1; the hidden tests call it on the other models."""
            probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
            got = held_out_evidence(probs, torch.tensor([0, 0, 0, 1]))
            hand = {"accuracy": 0.5, "chance": 0.75, "confidence": 0.75, "confidence_gap": 0.25,
                    "top_prediction_share": 0.75}
            for key, value in hand.items():
                assert key in got, f"The evidence lacks {key!r}."
                assert math.isclose(float(got[key]), value, abs_tol=1e-6), (
                    f"On the worked example {key} should be {value}, got {float(got[key]):.4f}. "
                    f"Confidence is the probability of the *predicted* class, not of class 1 or "
                    f"of the true class.")
            for letter in letters:
                reference = bertlab_evidence(letter)
                got = held_out_evidence(probabilities[letter], labels)
                for key in hand:
                    assert math.isclose(float(got[key]), float(reference[key]), abs_tol=TOLERANCE), (
                        f"Model {letter}: {key} is {float(got[key]):.4f}, bertlab's "
                        f"classifier_evidence says {float(reference[key]):.4f}.")'''
                 , "checks_evidence"),
        answer('''
        def held_out_evidence(probs, labels):
            """Held-out numbers of a classifier from probs [N, C] and labels [N] (a dict)."""
            ### BEGIN SOLUTION
            predicted = probs.argmax(dim=1)                                       # [N]
            accuracy = (predicted == labels).float().mean().item()
            confidence = probs.max(dim=1).values.mean().item()
            return {
                "accuracy": accuracy,
                "chance": labels.bincount().max().item() / len(labels),
                "confidence": confidence,
                "confidence_gap": confidence - accuracy,
                "top_prediction_share": predicted.bincount().max().item() / len(labels),
            }
            ### END SOLUTION''', "held_out_evidence"),
        tests('''
        check_held_out_evidence(held_out_evidence)
        ### BEGIN HIDDEN TESTS
        check_held_out_evidence(held_out_evidence, letters=("C", "D"))
        _three = held_out_evidence(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]]),
                                   torch.tensor([0, 2, 2]))
        for _key, _value in {"accuracy": 2 / 3, "chance": 2 / 3, "confidence": 2 / 3,
                             "top_prediction_share": 1 / 3}.items():
            assert math.isclose(float(_three[_key]), _value, abs_tol=1e-6), (
                f"With three classes, {_key} should be {_value:.4f}, got {float(_three[_key]):.4f}.")
        ### END HIDDEN TESTS''', "test_held_out_evidence", points=3),
        markdown('''
        ## Part 2: the rules (3 points)

        The chapter's rules, checked in order, with `skill = (accuracy - chance) / (1 - chance)`
        (0 for always answering the most common label, 1 for perfect) and the thresholds
        imported in the set-up (they come from the book's fine-tuning experiment):

        1. `"degenerate"`: `top_prediction_share >= COLLAPSED_PREDICTIONS` and
           `skill < LEARNT_SKILL` (it gives one answer to nearly everything);
        2. `"overfit"`: `train_accuracy - accuracy >= OVERFIT_ACCURACY_GAP` **or**
           `confidence_gap >= OVERFIT_CONFIDENCE_GAP` (much better on its training data than on
           new texts, or far more certain than right);
        3. `"healthy"`: `skill >= LEARNT_SKILL`;
        4. `"inconclusive"` otherwise.

        Write `verdict(evidence, train_accuracy)`, `evidence` a dict like Part 1's.'''),
        readonly('''
        def verdict_cases():
            """Hand-made evidence and the verdict the rules give."""
            fine = dict(accuracy=0.85, chance=0.5, confidence=0.82, confidence_gap=-0.03,
                        top_prediction_share=0.55)
            return [
                (fine, 0.9, "healthy", "skilled, small gaps"),
                ({**fine, "accuracy": 0.5, "confidence": 0.52, "confidence_gap": 0.02,
                  "top_prediction_share": 1.0}, 0.5, "degenerate", "one answer for everything"),
                ({**fine, "accuracy": 0.9 - OVERFIT_ACCURACY_GAP, "confidence": 0.85 - OVERFIT_ACCURACY_GAP,
                  "confidence_gap": -0.05}, 1.0,
                 "overfit", "train accuracy far above held-out accuracy"),
                ({**fine, "confidence": 0.85 + OVERFIT_CONFIDENCE_GAP + 0.05,
                  "confidence_gap": OVERFIT_CONFIDENCE_GAP + 0.05}, 0.9, "overfit",
                 "far more certain than right"),
                ({**fine, "accuracy": 0.55, "confidence": 0.56, "confidence_gap": 0.01}, 0.56,
                 "inconclusive", "little skill, but neither collapsed nor overconfident"),
            ]


        def check_verdict(verdict, cases=None):
            """The checks of Part 2; the hidden tests call it on other cases."""
            for evidence, train_accuracy, expected, why in cases or verdict_cases():
                got = verdict(dict(evidence), train_accuracy)
                assert got == expected, (
                    f"Evidence {evidence} with train accuracy {train_accuracy:.2f} is "
                    f"{expected!r} ({why}); your verdict says {got!r}. Check the rules in order.")'''
                 , "checks_verdict"),
        answer('''
        def verdict(evidence, train_accuracy):
            """One of VERDICTS from held-out `evidence` (Part 1's dict) and the train accuracy."""
            ### BEGIN SOLUTION
            skill = (evidence["accuracy"] - evidence["chance"]) / (1 - evidence["chance"])
            if evidence["top_prediction_share"] >= COLLAPSED_PREDICTIONS and skill < LEARNT_SKILL:
                return "degenerate"
            if (train_accuracy - evidence["accuracy"] >= OVERFIT_ACCURACY_GAP
                    or evidence["confidence_gap"] >= OVERFIT_CONFIDENCE_GAP):
                return "overfit"
            return "healthy" if skill >= LEARNT_SKILL else "inconclusive"
            ### END SOLUTION''', "verdict"),
        tests('''
        check_verdict(verdict)
        ### BEGIN HIDDEN TESTS
        _skilled = 0.6 + 0.4 * (LEARNT_SKILL + 0.1)   # skill LEARNT_SKILL + 0.1 against chance 0.6
        _fine = dict(accuracy=_skilled, chance=0.6, confidence=_skilled - 0.02,
                     confidence_gap=-0.02, top_prediction_share=0.6)
        check_verdict(verdict, cases=[
            (_fine, _skilled + 0.02, "healthy", "skill is measured from chance: (accuracy - chance) "
                                                "/ (1 - chance)"),
            ({**_fine, "top_prediction_share": 0.97}, _skilled, "healthy",
             "one class for most texts, but with skill: not collapsed"),
            ({**_fine, "confidence_gap": OVERFIT_CONFIDENCE_GAP + 0.01}, _skilled, "overfit",
             "far more certain than right"),
        ])
        ### END HIDDEN TESTS''', "test_verdict", points=3),
        readonly('''
        def check_answers_complete(answers):
            """The visible check of Part 3: one verdict per model (whether they are right is hidden)."""
            assert isinstance(answers, dict) and sorted(answers) == sorted(models), (
                f"ANSWERS must be a dict with one entry for each of {sorted(models)}.")
            assert set(answers.values()) <= set(VERDICTS), f"Each answer must be one of {VERDICTS}."'''
                 , "checks_answers"),
        markdown('''
        ## Part 3: your answers (4 points)

        Set `ANSWERS` to a dict from each letter to one of `VERDICTS`. Use your functions on the
        evidence above (and look at the table the next-but-one cell prints).'''),
        answer('''
        ### BEGIN SOLUTION
        ANSWERS = {letter: verdict(held_out_evidence(probabilities[letter], labels), m.train_accuracy)
                   for letter, m in models.items()}
        ### END SOLUTION
        ANSWERS''', "answers"),
        tests('''
        check_answers_complete(ANSWERS)
        ### BEGIN HIDDEN TESTS
        # The recipes behind the letters with the default course key (see bertlab.course):
        # A healthy, B low-diversity, C high-lr, D overfit.
        assert ANSWERS == {"A": "healthy", "B": "overfit", "C": "degenerate", "D": "overfit"}
        ### END HIDDEN TESTS''', "test_answers", points=4),
        explore('''
        # Explore (not graded): the evidence side by side, and bertlab's attention spread per layer
        # (normalised entropy: 1.0 = attention spread evenly over the whole text).
        table = pd.DataFrame({letter: {"train_accuracy": m.train_accuracy,
                                       **held_out_evidence(probabilities[letter], labels)}
                              for letter, m in models.items()}).T
        print(table.round(3))
        print(spread.round(3))'''),
        markdown('''
        ## Part 4: justify your verdicts (3 points, graded by hand)

        For each model, in one or two sentences, name the numbers that decide its verdict. Then
        say why training accuracy alone would have misled you, and what the attention spread
        adds (or fails to add) to the held-out evidence.'''),
        written('''
        **Rubric (3 points).** 1 point: each verdict justified by the deciding numbers from the
        printed table (the degenerate model gives one class to every review and has no skill;
        the overfit ones have train accuracy 1.0 far above held-out accuracy, one of them also
        a large positive confidence gap; the healthy one has skill and a confidence that
        matches its accuracy). 1 point: training accuracy alone ranks the overfit models
        *first* (they fit their small or monotonous training sets perfectly). 1 point:
        attention spread flags the degenerate model (near-uniform in almost every layer) but
        does not separate healthy from overfit: the book's experiment found no attention
        signal that does, so claim C6 is not supported by these models.''',
                "written_answer", points=3),
        markdown('''
        ## Self-check

        Runs the visible checks and prints what passes. Your answers themselves are checked only
        by the hidden tests.'''),
        readonly('''
        course.self_check({
            "Part 1, held_out_evidence": lambda: check_held_out_evidence(held_out_evidence),
            "Part 2, verdict": lambda: check_verdict(verdict),
            "Part 3, ANSWERS is complete": lambda: check_answers_complete(ANSWERS),
        });''', "self_check"),
    ]
