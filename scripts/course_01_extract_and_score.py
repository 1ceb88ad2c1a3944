"""Assignment 1, "Extract and score": shares and entropy on raw, padded attention tensors.

Chapter: book/extracting.md. Written by `course_notebooks.build("01_extract_and_score")`.
"""

from course_notebooks import answer, explore, markdown, readonly, tests, written


def cells():
    return [
        markdown('''
        # Assignment 1: extract and score attention

        *About 30 minutes, after the chapter "Extracting and reading attention".*

        `bertlab.extract` hands you attention with the padding already removed. Here you work one
        level lower, on what the model itself returns for a **padded batch**: a tensor
        `attention` of shape `[B, L, H, Q, K]` (B texts, L layers, H heads, Q queries, K keys) and
        an `attention_mask` `[B, T]` that is True on real tokens and False on padding. You write
        the three measurements the course is built on and check them against bertlab.

        | part | what you write | points |
        |---|---|---|
        | 1 | `share_to_keys`: the share of attention that goes to a set of keys | 4 |
        | 2 | `cls_row`: the attention *from* [CLS], wherever [CLS] sits | 3 |
        | 3 | `row_entropy`: how spread attention is, in nats and normalised | 3 |
        | 4 | a short written answer | 2 |

        Run the cells in order. Each part has a read-only cell with its **visible checks** (read
        them: they say exactly what is expected); the graded test cell runs them, and hidden tests
        run the same checks on other texts. The last cell summarises which parts pass, in Colab
        too.'''),
        readonly('''
        import functools
        import os

        import torch

        import bertlab
        from bertlab import course

        lm = bertlab.load(os.environ.get("BERTLAB_MODEL"))
        CLS_ID, SEP_ID = lm.tokenizer.cls_token_id, lm.tokenizer.sep_token_id
        #: Largest difference allowed from bertlab: the model runs in float32, and a padded batch
        #: adds up in another order than bertlab's unpadded texts (differences seen: about 1e-6).
        TOLERANCE = 1e-4

        #: The texts of the visible checks: of different lengths, so a batch of them has padding.
        TEXTS = ["The dog chased the cat.",
                 "Rain again!",
                 "I returned the blender because it leaked on the very first day.",
                 "Friendly staff, hot soup, and a quiet table by the window."]


        def padded_batch(texts, padding_side="right"):
            """Run the model once on a padded batch of `texts`.

            Returns attention [B, L, H, Q, K] (float32, CPU), input_ids [B, T] and attention_mask
            [B, T] (bool, True on real tokens). Position ids count real tokens only, so a
            left-padded text gets the same attention as a right-padded one, shifted.
            """
            encoding = lm.tokenizer(texts, padding=True, padding_side=padding_side,
                                    return_tensors="pt")
            mask = encoding["attention_mask"]                                  # [B, T]
            inputs = {**encoding, "position_ids": (mask.cumsum(dim=1) - 1).clamp(min=0)}
            with torch.inference_mode():
                outputs = lm.model(**{k: v.to(lm.device) for k, v in inputs.items()},
                                   output_attentions=True)
            attention = torch.stack(outputs.attentions, dim=1).float().cpu()   # [B, L, H, Q, K]
            return attention, encoding["input_ids"], mask.bool()


        @functools.cache
        def reference(text):
            """bertlab's unpadded attention of one text (kept: the checks ask for it often)."""
            return bertlab.extract(lm, text)


        @functools.cache
        def bertlab_scores(text):
            """The reference scores of one text: bertlab's (layer, head) table."""
            return bertlab.score(reference(text))


        def bertlab_metric(text, metric):
            """The reference: bertlab's `metric` for one text as an [L, H] tensor."""
            table = bertlab_scores(text)
            values = table.pivot(index="layer", columns="head", values=metric)  # [L, H]
            return torch.tensor(values.to_numpy(), dtype=torch.float32)


        attention, input_ids, attention_mask = padded_batch(TEXTS)
        print(f"attention {tuple(attention.shape)} = [B, L, H, Q, K]; "
              f"attention_mask {tuple(attention_mask.shape)} = [B, T]; "
              f"real tokens per text: {attention_mask.sum(dim=1).tolist()}")''', "setup"),
        markdown('''
        ## Part 1: the share of attention to a set of keys (4 points)

        For one query row `a = attention[b, l, h, i]` (it sums to 1 over the keys), the share to a
        set of keys is the sum of `a[j]` over the keys `j` in the set. A text's value is the
        **mean over its real query rows**, each row weighted equally; padded query rows are not
        part of the text (the model still computes them, and each of them sums to 1 too).

        Write `share_to_keys(attention, key_mask, attention_mask)`: `attention` `[B, L, H, Q, K]`,
        `key_mask` and `attention_mask` `[B, T]` bool; return a `[B, L, H]` tensor. Count only
        real keys. Do not change the inputs.'''),
        readonly('''
        def check_share_to_keys(share_to_keys, texts=TEXTS):
            """The checks of Part 1; the hidden tests call it on other texts."""
            for side in ("right", "left"):
                attention, input_ids, attention_mask = padded_batch(texts, side)
                before = attention.clone()
                everything = share_to_keys(attention, attention_mask, attention_mask)
                assert torch.equal(attention, before), "share_to_keys changed its input tensor."
                assert tuple(everything.shape) == tuple(attention.shape[:3]), (
                    f"Expected one value per text, layer and head, shape [B, L, H] = "
                    f"{tuple(attention.shape[:3])}; got {tuple(everything.shape)}.")
                assert everything.max() <= 1 + TOLERANCE, (
                    f"Your shares sum to more than 1 (up to {everything.max():.3f}) with every real "
                    f"key in the set: are padding positions included? Sum over real query rows and "
                    f"divide by their number.")
                assert torch.allclose(everything, torch.ones_like(everything), atol=TOLERANCE), (
                    "With every real key in the set, each text's share must be 1.")
                for metric, token_id in (("cls_share", CLS_ID), ("sep_share", SEP_ID)):
                    shares = share_to_keys(attention, input_ids == token_id, attention_mask)
                    for b, text in enumerate(texts):
                        expected = bertlab_metric(text, metric)                  # [L, H]
                        gap = (shares[b] - expected).abs().max()
                        assert gap <= TOLERANCE, (
                            f"{metric} of text {b} ({text!r}, {side}-padded) differs from "
                            f"bertlab's by up to {gap:.4f}. Average over the text's real query "
                            f"rows only (attention_mask), each with equal weight.")'''
                 , "checks_share"),
        answer('''
        def share_to_keys(attention, key_mask, attention_mask):
            """Per text, layer and head: the mean over real query rows of the attention to the keys
            in `key_mask`. attention [B, L, H, Q, K]; key_mask, attention_mask [B, T] bool -> [B, L, H].
            """
            ### BEGIN SOLUTION
            keys = (key_mask & attention_mask).to(attention.dtype)               # [B, K]
            per_row = torch.einsum("blhqk,bk->blhq", attention, keys)            # [B, L, H, Q]
            queries = attention_mask.to(attention.dtype)                         # [B, Q]
            total = torch.einsum("blhq,bq->blh", per_row, queries)               # [B, L, H]
            return total / queries.sum(dim=1)[:, None, None]                     # [B, L, H]
            ### END SOLUTION''', "share_to_keys"),
        tests('''
        check_share_to_keys(share_to_keys)
        ### BEGIN HIDDEN TESTS
        check_share_to_keys(share_to_keys, texts=[
            "Terrible.",
            "The hotel was clean, the staff kind, and breakfast generous: we will come back.",
            "Why would anyone buy this twice?", "Fine, I guess."])
        ### END HIDDEN TESTS''', "test_share_to_keys", points=4),
        markdown('''
        ## Part 2: the attention *from* [CLS] (3 points)

        The [CLS] query row says what [CLS] gathers (claim C4 of the book). With right padding
        [CLS] is the first position, but tokenizers can pad on the left (many decoder-style
        pipelines do): then [CLS] sits after the padding.

        Write `cls_row(attention, input_ids, cls_token_id)`: return the `[B, L, H, K]` tensor
        holding, for every text, layer and head, the query row of that text's [CLS] token.'''),
        readonly('''
        def check_cls_row(cls_row, texts=TEXTS):
            """The checks of Part 2; the hidden tests call it on other texts."""
            for side in ("left", "right"):
                attention, input_ids, attention_mask = padded_batch(texts, side)
                rows = cls_row(attention, input_ids, CLS_ID)
                expected_shape = (*attention.shape[:3], attention.shape[4])
                assert tuple(rows.shape) == expected_shape, (
                    f"Expected [B, L, H, K] = {expected_shape}, got {tuple(rows.shape)}.")
                for b, text in enumerate(texts):
                    att = reference(text)
                    expected = att.weights[:, :, att.cls_positions[0]]               # [L, H, K real]
                    gap = (rows[b][:, :, attention_mask[b]] - expected).abs().max()
                    assert gap <= TOLERANCE, (
                        f"Text {b} ({text!r}, {side}-padded): this is not the attention from "
                        f"[CLS] (off by up to {gap:.3f}). With left padding [CLS] is not at index "
                        f"0: find it with input_ids == cls_token_id.")'''
                 , "checks_cls_row"),
        answer('''
        def cls_row(attention, input_ids, cls_token_id):
            """The query row of each text's [CLS]: attention [B, L, H, Q, K], input_ids [B, T]
            -> [B, L, H, K]."""
            ### BEGIN SOLUTION
            position = (input_ids == cls_token_id).int().argmax(dim=1)           # [B], first [CLS]
            texts = torch.arange(attention.shape[0])                             # [B]
            # Two index tensors around two full slices: the indexed dimension B comes first.
            return attention[texts, :, :, position]                              # [B, L, H, K]
            ### END SOLUTION''', "cls_row"),
        tests('''
        check_cls_row(cls_row)
        ### BEGIN HIDDEN TESTS
        check_cls_row(cls_row, texts=["Good.", "It broke after a week and support never answered.",
                                      "Lovely!"])
        ### END HIDDEN TESTS''', "test_cls_row", points=3),
        markdown('''
        ## Part 3: entropy (3 points)

        The entropy of a row `a` is `-sum_j a[j] * ln a[j]` in nats, with `0 * ln 0 = 0` (padded
        keys have weight exactly 0). A text's value is the mean over its real query rows.
        Attention spread evenly over the `n` real tokens of a text has entropy `ln n`, so dividing
        a text's value by `ln n` gives a number from 0 (every row on one key) to 1 (even spread)
        that compares texts of different lengths.

        Write `row_entropy(attention, attention_mask, normalised=False)` returning `[B, L, H]`;
        with `normalised=True`, divide each text's value by `ln n` for that text's `n`.'''),
        readonly('''
        def check_row_entropy(row_entropy, texts=TEXTS):
            """The checks of Part 3; the hidden tests call it on other texts."""
            attention, input_ids, attention_mask = padded_batch(texts)
            entropy = row_entropy(attention, attention_mask)
            assert not entropy.isnan().any(), (
                "Your entropy has NaN: 0 * ln 0 must count as 0 (padded keys have weight 0). "
                "torch.special.xlogy(a, a) computes a * ln a with that convention.")
            for b, text in enumerate(texts):
                gap = (entropy[b] - bertlab_metric(text, "entropy")).abs().max()
                assert gap <= TOLERANCE, (
                    f"Entropy of text {b} ({text!r}) differs from bertlab's by up to {gap:.4f}: "
                    f"mean over the real query rows only.")
            n_real = attention_mask.sum(dim=1)                                       # [B]
            even = attention_mask[:, None, None, None, :] / n_real[:, None, None, None, None]
            even = even.expand_as(attention).float()                  # [B, L, H, Q, K], rows even
            normalised = row_entropy(even, attention_mask, normalised=True)
            assert torch.allclose(normalised, torch.ones_like(normalised), atol=TOLERANCE), (
                f"Attention spread evenly over the real tokens must give 1 when normalised; got "
                f"{normalised.min():.3f} to {normalised.max():.3f}. Divide by ln n with n the "
                f"number of *real* tokens of each text, not the padded length.")
            scaled = row_entropy(attention, attention_mask, normalised=True)
            assert torch.allclose(scaled, entropy / n_real.log()[:, None, None], atol=TOLERANCE), (
                "normalised=True must divide each text's entropy by ln of its real length.")'''
                 , "checks_entropy"),
        answer('''
        def row_entropy(attention, attention_mask, normalised=False):
            """Mean entropy (nats) of each text's real query rows: attention [B, L, H, Q, K],
            attention_mask [B, T] -> [B, L, H]; divided by ln(real length) when `normalised`."""
            ### BEGIN SOLUTION
            per_row = -torch.special.xlogy(attention, attention).sum(dim=-1)     # [B, L, H, Q]
            queries = attention_mask.to(attention.dtype)                         # [B, Q]
            n_real = queries.sum(dim=1)                                          # [B]
            mean = torch.einsum("blhq,bq->blh", per_row, queries) / n_real[:, None, None]
            return mean / n_real.log()[:, None, None] if normalised else mean   # [B, L, H]
            ### END SOLUTION''', "row_entropy"),
        tests('''
        check_row_entropy(row_entropy)
        ### BEGIN HIDDEN TESTS
        check_row_entropy(row_entropy, texts=["Never again.", "The manual was clear and setup took "
                                              "five minutes.", "Meh."])
        ### END HIDDEN TESTS''', "test_row_entropy", points=3),
        markdown('''
        ## Part 4: what the numbers say (2 points, graded by hand)

        Run the cell below (change it as you like; it is not graded). Then answer in 3–5
        sentences, quoting your numbers: in which layers does [CLS] receive the most attention,
        how spread is attention there compared with the other layers, and what would go wrong in
        those numbers if padded query rows were averaged in?'''),
        explore('''
        # Explore (not graded): per layer, mean over texts and heads.
        cls_by_layer = share_to_keys(attention, input_ids == CLS_ID, attention_mask).mean(dim=(0, 2))
        spread_by_layer = row_entropy(attention, attention_mask, normalised=True).mean(dim=(0, 2))
        for layer, (share, spread) in enumerate(zip(cls_by_layer, spread_by_layer)):
            print(f"layer {layer} (0-based): [CLS] share {share:.3f}, normalised entropy {spread:.3f}")'''),
        written('''
        **Rubric (2 points).** 1 point: names the layers with the highest [CLS] share *from the
        printed numbers* (on all-MiniLM-L6-v2 the middle layers, not the first) and says that
        attention there is concentrated (lower normalised entropy than the first layer).
        1 point: explains that padded query rows are rows the model computes for positions
        that are not part of the text; averaging them in mixes in rows that belong to no token
        and weights short texts' values by the batch's padded length, so the numbers change
        with the batch (a text's score must not depend on its neighbours).''',
                "written_answer", points=2),
        markdown('''
        ## Self-check

        Runs the visible checks of every part and prints what passes. It works anywhere (Colab
        too); the grade itself comes from the test cells, which add hidden tests on other texts.'''),
        readonly('''
        course.self_check({
            "Part 1, share_to_keys": lambda: check_share_to_keys(share_to_keys),
            "Part 2, cls_row": lambda: check_cls_row(cls_row),
            "Part 3, row_entropy": lambda: check_row_entropy(row_entropy),
        });''', "self_check"),
    ]
