"""Assignment 3, "[SEP] and boundaries": attention across the segment border, singles vs pairs.

Chapter: book/sep.md. Written by `course_notebooks.build("03_sep_boundaries")`.
"""

from course_notebooks import answer, explore, markdown, readonly, tests, written


def cells():
    return [
        markdown('''
        # Assignment 3: [SEP] and sentence boundaries

        *About 30 minutes, after the chapter "[SEP] and boundaries".*

        BERT reads a sentence pair as `[CLS] first [SEP] second [SEP]`, with segment ids 0 for
        the first part (its [CLS] and [SEP] included) and 1 for the second. The seed claims that
        boundary-aware layers attend to [SEP] (C5) and that [SEP] attention shows where sentences
        break (C9). You measure how much attention crosses the border, correct it for the
        sentences' lengths, and compare the [SEP] share on pairs with the same first sentences
        alone.

        | part | what you write | points |
        |---|---|---|
        | 1 | `cross_segment_share`: attention to the other sentence | 3 |
        | 2 | `border_lift`: the same, against evenly spread attention | 3 |
        | 3 | `sep_share_by_layer`: the [SEP] share of a corpus, per layer | 3 |
        | 4 | a short written answer | 2 |'''),
        readonly('''
        import os

        import numpy as np
        import torch

        import bertlab
        from bertlab import course
        from bertlab.roles import measure

        lm = bertlab.load(os.environ.get("BERTLAB_MODEL"))
        #: Largest difference allowed from bertlab: float32 rounding (seen: about 1e-7).
        TOLERANCE = 1e-4

        _pairs = bertlab.load_pairs("train")
        _pairs = _pairs[_pairs.label == 1].head(12)            # true next sentences
        FIRST, SECOND = _pairs.text.tolist(), _pairs.text_pair.tolist()
        pair_attention = bertlab.extract_batch(lm, FIRST, SECOND)   # [CLS] first [SEP] second [SEP]
        single_attention = bertlab.extract_batch(lm, FIRST)         # [CLS] first [SEP]


        _measured = {}


        def bertlab_measures(att):
            """The reference: bertlab's (layer, head) measures of one Attention, kept per text."""
            key = (tuple(att.tokens), tuple(att.segment_ids.tolist()))
            if key not in _measured:
                _measured[key] = measure(att)
            return _measured[key]


        def as_tensor(att, column):
            """One column of bertlab's measures of `att` as an [L, H] tensor."""
            table = bertlab_measures(att).pivot(index="layer", columns="head", values=column)
            return torch.tensor(table.to_numpy(), dtype=torch.float32)


        example = pair_attention[0]
        print(" ".join(example.tokens))
        print("segment ids:", example.segment_ids.tolist())'''
                 , "setup"),
        markdown('''
        ## Part 1: attention across the border (3 points)

        For a query `i` of a sentence pair, the cross-segment share of a row `a` is the sum of
        `a[j]` over the keys `j` whose segment id differs from the query's own. A head's value is
        the mean over the query rows. For a single sentence there is no border: return NaN.

        Write `cross_segment_share(att)`, `att` a `bertlab.Attention`, returning an `[L, H]`
        tensor.'''),
        readonly('''
        def check_cross_segment_share(cross_segment_share, attentions=pair_attention):
            """The checks of Part 1; the hidden tests call it on other pairs."""
            for att in attentions[:6]:
                got = cross_segment_share(att)
                assert tuple(got.shape) == tuple(att.weights.shape[:2]), (
                    f"Expected [L, H] = {tuple(att.weights.shape[:2])}, got {tuple(got.shape)}.")
                gap = (got - as_tensor(att, "cross_segment_share")).abs().max()
                assert gap <= TOLERANCE, (
                    f"Off by up to {gap:.3f} on {' '.join(att.tokens)!r}. A query in the second "
                    f"sentence crosses the border by attending to the first: compare each key's "
                    f"segment id with the query's own, not with 1.")
            single = cross_segment_share(single_attention[0])
            assert torch.isnan(single).all(), (
                "A single sentence has no border: return NaN for every layer and head, so that it "
                "cannot be mistaken for 'no attention crosses'.")'''
                 , "checks_cross"),
        answer('''
        def cross_segment_share(att):
            """Per layer and head, the mean over query rows of the attention to the other
            sentence: weights [L, H, Q, K] -> [L, H]; NaN for a single sentence."""
            ### BEGIN SOLUTION
            if not att.is_pair:
                return torch.full(att.weights.shape[:2], float("nan"))
            other = att.segment_ids[:, None] != att.segment_ids[None, :]          # [Q, K]
            return (att.weights * other).sum(dim=-1).mean(dim=-1)                 # [L, H]
            ### END SOLUTION''', "cross_segment_share"),
        tests('''
        check_cross_segment_share(cross_segment_share)
        ### BEGIN HIDDEN TESTS
        _hidden = bertlab.load_pairs("test").head(5)
        check_cross_segment_share(cross_segment_share, bertlab.extract_batch(
            lm, _hidden.text.tolist(), _hidden.text_pair.tolist()))
        ### END HIDDEN TESTS''', "test_cross_segment_share", points=3),
        markdown('''
        ## Part 2: the border against evenly spread attention (3 points)

        A long first sentence and a short second one make the raw share small for most queries,
        whatever the model does. Attention spread evenly over all `n` tokens would send a query
        in one sentence the fraction `(tokens in the other sentence) / n` across; averaged over
        the query rows, that is the **even share**. The **lift** is the cross-segment share
        divided by the even share: 1 means attention ignores the border, below 1 means it keeps
        to its own sentence.

        Write `border_lift(att, cross)` where `cross` is the `[L, H]` cross-segment share of
        `att` (the checks hand you bertlab's, so this part is graded on its own); return the
        `[L, H]` lift.'''),
        readonly('''
        def check_border_lift(border_lift, attentions=pair_attention):
            """The checks of Part 2; the hidden tests call it on other pairs."""
            for att in attentions[:6]:
                cross = as_tensor(att, "cross_segment_share")
                got = border_lift(att, cross)
                gap = (got - as_tensor(att, "cross_segment_lift")).abs().max()
                assert gap <= TOLERANCE, (
                    f"Off by up to {gap:.3f} on {' '.join(att.tokens)!r}. The even share is, per "
                    f"query, the fraction of tokens in the *other* sentence (for a query in the "
                    f"second sentence that is the first sentence's length / n), averaged over "
                    f"queries.")'''
                 , "checks_lift"),
        answer('''
        def border_lift(att, cross):
            """The cross-segment share `cross` [L, H] divided by that of evenly spread attention."""
            ### BEGIN SOLUTION
            other = (att.segment_ids[:, None] != att.segment_ids[None, :]).float()  # [Q, K]
            even = other.mean(dim=1).mean()      # per query: the fraction across; then the mean
            return cross / even                                                     # [L, H]
            ### END SOLUTION''', "border_lift"),
        tests('''
        check_border_lift(border_lift)
        ### BEGIN HIDDEN TESTS
        _hidden = bertlab.load_pairs("validation").head(5)
        check_border_lift(border_lift, bertlab.extract_batch(
            lm, _hidden.text.tolist(), _hidden.text_pair.tolist()))
        ### END HIDDEN TESTS''', "test_border_lift", points=3),
        markdown('''
        ## Part 3: the [SEP] share per layer (3 points)

        Write `sep_share_by_layer(attentions)`: for a list of `Attention`s return a NumPy array
        with one value per layer, the share of attention to [SEP] keys, averaged over each
        text's query rows, over heads, then over texts (each text weighted equally). A pair has
        **two** [SEP] tokens.'''),
        readonly('''
        def check_sep_share_by_layer(sep_share_by_layer, groups=(pair_attention, single_attention)):
            """The checks of Part 3; the hidden tests call it on other texts."""
            for attentions in groups:
                got = np.asarray(sep_share_by_layer(attentions))
                assert got.shape == (lm.n_layers,), (
                    f"Expected one value per layer, shape ({lm.n_layers},), got {got.shape}.")
                expected = np.mean([as_tensor(att, "sep_share").mean(dim=1).numpy()
                                    for att in attentions], axis=0)              # [L]
                gap = np.abs(got - expected).max()
                kind = "pairs" if attentions[0].is_pair else "single sentences"
                assert gap <= TOLERANCE, (
                    f"On {kind}, off by up to {gap:.3f} from bertlab's [SEP] share. Use every "
                    f"[SEP] of a text (att.sep_mask), not only the last position.")'''
                 , "checks_sep"),
        answer('''
        def sep_share_by_layer(attentions):
            """Per layer: the [SEP] share, mean over query rows, heads, then texts -> array [L]."""
            ### BEGIN SOLUTION
            per_text = [att.weights[..., att.sep_mask].sum(dim=-1).mean(dim=(1, 2))  # [L]
                        for att in attentions]
            return torch.stack(per_text).mean(dim=0).numpy()                       # [L]
            ### END SOLUTION''', "sep_share_by_layer"),
        tests('''
        check_sep_share_by_layer(sep_share_by_layer)
        ### BEGIN HIDDEN TESTS
        _hidden = bertlab.load_pairs("test").tail(6)
        check_sep_share_by_layer(sep_share_by_layer, groups=(
            bertlab.extract_batch(lm, _hidden.text.tolist(), _hidden.text_pair.tolist()),
            bertlab.extract_batch(lm, _hidden.text_pair.tolist())))
        ### END HIDDEN TESTS''', "test_sep_share_by_layer", points=3),
        markdown('''
        ## Part 4: which layers react to the boundary? (2 points, graded by hand)

        Run the cell below (change it freely; it is not graded). Then answer in 3–5 sentences,
        quoting your numbers: in which layers does the [SEP] share rise most from single
        sentences to pairs, and is the rise large? In which layers does attention keep to its
        own sentence most (lowest lift)? Do these numbers support claims C5 and C9, and how does
        the "no-op" reading of [SEP] attention (Clark et al. 2019) fit them?'''),
        explore('''
        # Explore (not graded): [SEP] share on singles and pairs, and the mean border lift per layer.
        single_sep = sep_share_by_layer(single_attention)
        pair_sep = sep_share_by_layer(pair_attention)
        lift = torch.stack([border_lift(att, cross_segment_share(att)).mean(dim=1)
                            for att in pair_attention]).mean(dim=0)                 # [L]
        for layer in range(lm.n_layers):
            print(f"layer {layer} (0-based): [SEP] single {single_sep[layer]:.3f}, "
                  f"pair {pair_sep[layer]:.3f}, rise {pair_sep[layer] - single_sep[layer]:+.3f}; "
                  f"border lift {lift[layer]:.2f}")'''),
        written('''
        **Rubric (2 points).** 1 point: reads the rise from the printed numbers and judges its
        size honestly (on all-MiniLM-L6-v2 the [SEP] share is small in every layer and rises by
        only a point or two on pairs, although a pair has two [SEP] tokens), and names the
        layers with the lowest lift. 1 point: relates this to C5/C9: the border is visible in
        the lift (attention stays in its own sentence, lift below 1) more than in the [SEP]
        share, so [SEP] attention is at most weak evidence of boundary awareness here; Clark et
        al.'s no-op reading says attention parked on [SEP] need not carry information at all.''',
                "written_answer", points=2),
        markdown('''
        ## Self-check

        Runs the visible checks of every part and prints what passes; the grade comes from the
        test cells, which add hidden tests on other sentence pairs.'''),
        readonly('''
        course.self_check({
            "Part 1, cross_segment_share": lambda: check_cross_segment_share(cross_segment_share),
            "Part 2, border_lift": lambda: check_border_lift(border_lift),
            "Part 3, sep_share_by_layer": lambda: check_sep_share_by_layer(sep_share_by_layer),
        });''', "self_check"),
    ]
